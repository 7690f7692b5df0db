// Our language ids -> CodeMirror language support, each loaded on first use (its own chunk).
// Languages with no CodeMirror mode edit as plain text.
import { StreamLanguage } from "@codemirror/language";

const legacy = (load, pick) => async () => StreamLanguage.define(pick(await load()));

const MODES = {
  python: async () => (await import("@codemirror/lang-python")).python(),
  pypy: async () => (await import("@codemirror/lang-python")).python(),
  javascript: async () => (await import("@codemirror/lang-javascript")).javascript(),
  typescript: async () => (await import("@codemirror/lang-javascript")).javascript({ typescript: true }),
  java: async () => (await import("@codemirror/lang-java")).java(),
  c: async () => (await import("@codemirror/lang-cpp")).cpp(),
  cpp: async () => (await import("@codemirror/lang-cpp")).cpp(),
  rust: async () => (await import("@codemirror/lang-rust")).rust(),
  go: async () => (await import("@codemirror/lang-go")).go(),
  php: async () => (await import("@codemirror/lang-php")).php({ plain: false }),
  csharp: legacy(() => import("@codemirror/legacy-modes/mode/clike"), (m) => m.csharp),
  kotlin: legacy(() => import("@codemirror/legacy-modes/mode/clike"), (m) => m.kotlin),
  scala: legacy(() => import("@codemirror/legacy-modes/mode/clike"), (m) => m.scala),
  dart: legacy(() => import("@codemirror/legacy-modes/mode/clike"), (m) => m.dart),
  objectivec: legacy(() => import("@codemirror/legacy-modes/mode/clike"), (m) => m.objectiveC),
  vala: legacy(() => import("@codemirror/legacy-modes/mode/clike"), (m) => m.csharp),
  pike: legacy(() => import("@codemirror/legacy-modes/mode/clike"), (m) => m.cpp),
  bash: legacy(() => import("@codemirror/legacy-modes/mode/shell"), (m) => m.shell),
  zsh: legacy(() => import("@codemirror/legacy-modes/mode/shell"), (m) => m.shell),
  fish: legacy(() => import("@codemirror/legacy-modes/mode/shell"), (m) => m.shell),
  ksh: legacy(() => import("@codemirror/legacy-modes/mode/shell"), (m) => m.shell),
  dash: legacy(() => import("@codemirror/legacy-modes/mode/shell"), (m) => m.shell),
  perl: legacy(() => import("@codemirror/legacy-modes/mode/perl"), (m) => m.perl),
  raku: legacy(() => import("@codemirror/legacy-modes/mode/perl"), (m) => m.perl),
  ruby: legacy(() => import("@codemirror/legacy-modes/mode/ruby"), (m) => m.ruby),
  crystal: legacy(() => import("@codemirror/legacy-modes/mode/crystal"), (m) => m.crystal),
  lua: legacy(() => import("@codemirror/legacy-modes/mode/lua"), (m) => m.lua),
  r: legacy(() => import("@codemirror/legacy-modes/mode/r"), (m) => m.r),
  fortran: legacy(() => import("@codemirror/legacy-modes/mode/fortran"), (m) => m.fortran),
  pascal: legacy(() => import("@codemirror/legacy-modes/mode/pascal"), (m) => m.pascal),
  ocaml: legacy(() => import("@codemirror/legacy-modes/mode/mllike"), (m) => m.oCaml),
  sml: legacy(() => import("@codemirror/legacy-modes/mode/mllike"), (m) => m.sml),
  haskell: legacy(() => import("@codemirror/legacy-modes/mode/haskell"), (m) => m.haskell),
  tcl: legacy(() => import("@codemirror/legacy-modes/mode/tcl"), (m) => m.tcl),
  erlang: legacy(() => import("@codemirror/legacy-modes/mode/erlang"), (m) => m.erlang),
  swift: legacy(() => import("@codemirror/legacy-modes/mode/swift"), (m) => m.swift),
  lisp: legacy(() => import("@codemirror/legacy-modes/mode/commonlisp"), (m) => m.commonLisp),
  emacs: legacy(() => import("@codemirror/legacy-modes/mode/commonlisp"), (m) => m.commonLisp),
  racket: legacy(() => import("@codemirror/legacy-modes/mode/scheme"), (m) => m.scheme),
  scheme: legacy(() => import("@codemirror/legacy-modes/mode/scheme"), (m) => m.scheme),
  clojure: legacy(() => import("@codemirror/legacy-modes/mode/clojure"), (m) => m.clojure),
  forth: legacy(() => import("@codemirror/legacy-modes/mode/forth"), (m) => m.forth),
  coffeescript: legacy(() => import("@codemirror/legacy-modes/mode/coffeescript"), (m) => m.coffeeScript),
  d: legacy(() => import("@codemirror/legacy-modes/mode/d"), (m) => m.d),
  cobol: legacy(() => import("@codemirror/legacy-modes/mode/cobol"), (m) => m.cobol),
  nasm: legacy(() => import("@codemirror/legacy-modes/mode/gas"), (m) => m.gas),
  groovy: legacy(() => import("@codemirror/legacy-modes/mode/groovy"), (m) => m.groovy),
  octave: legacy(() => import("@codemirror/legacy-modes/mode/octave"), (m) => m.octave),
  haxe: legacy(() => import("@codemirror/legacy-modes/mode/haxe"), (m) => m.haxe),
};

export const hasMode = (id) => id in MODES;

// The language support for `id`, or [] (plain text) when we have no mode or it fails to load.
export async function modeFor(id) {
  const load = MODES[id];
  if (!load) return [];
  try {
    return await load();
  } catch {
    return [];
  }
}
