// The CodeMirror editor: highlighting per language (a compartment swapped on language change).
import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import { bracketMatching, defaultHighlightStyle, indentOnInput, syntaxHighlighting } from "@codemirror/language";
import { Compartment, EditorState, Prec } from "@codemirror/state";
import {
  drawSelection, EditorView, highlightActiveLine, highlightActiveLineGutter, keymap, lineNumbers,
} from "@codemirror/view";

import { modeFor } from "./modes.js";

export function createEditor(parent, { doc = "", onRun, onSave, onChange } = {}) {
  const language = new Compartment();
  const runKeys = Prec.highest(keymap.of([
    { key: "Mod-Enter", preventDefault: true, run: () => { onRun?.(); return true; } },
    { key: "Mod-s", preventDefault: true, run: () => { onSave?.(); return true; } },
  ]));
  const view = new EditorView({
    parent,
    state: EditorState.create({
      doc,
      extensions: [
        runKeys, lineNumbers(), highlightActiveLineGutter(), history(), drawSelection(), indentOnInput(),
        bracketMatching(), highlightActiveLine(), syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
        keymap.of([...defaultKeymap, ...historyKeymap, indentWithTab]), language.of([]),
        EditorView.contentAttributes.of({ "aria-label": "Code editor" }),
        EditorView.updateListener.of((u) => { if (u.docChanged) onChange?.(u.state.doc.toString()); }),
      ],
    }),
  });
  let wanted = null;
  return {
    view,
    get value() { return view.state.doc.toString(); },
    set value(text) {
      view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } });
    },
    async setLanguage(id) {
      wanted = id;
      const support = await modeFor(id);
      if (wanted === id) view.dispatch({ effects: language.reconfigure(support) });
    },
    focus() { view.focus(); },
  };
}
