// A live run in a terminal (loaded on first use): the program runs on a pseudo-terminal, the user
// types into it, a resize sends its size, Stop interrupts it and then closes the connection.
import { FitAddon } from "@xterm/addon-fit";
import { Terminal } from "@xterm/xterm";

import { ApiError } from "./api.js";

const socketUrl = () => `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/codestudio/live`;

export function startLive(container, { key, run, onAccepted, onExit, onError, onClose }) {
  container.replaceChildren();
  const term = new Terminal({ convertEol: false, cursorBlink: true, fontSize: 14, scrollback: 5000 });
  const fit = new FitAddon();
  term.loadAddon(fit);
  term.open(container);
  fit.fit();
  const socket = new WebSocket(socketUrl());
  let finished = false;
  const send = (frame) => { if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(frame)); };

  socket.addEventListener("open", () => {
    send({ type: "auth", key });
    send({ type: "start", ...run, tty: true, cols: term.cols, rows: term.rows });
    term.focus();
  });
  socket.addEventListener("message", (event) => {
    const frame = JSON.parse(event.data);
    switch (frame.type) {
      case "accepted": onAccepted?.(frame.execution_id); break;
      case "output": case "stdout": case "stderr": case "compile": term.write(frame.data); break;
      case "exit": finished = true; onExit?.(frame.result); break;
      case "error":
        finished = true;
        onError?.(new ApiError(frame.status || 0, frame, frame.retry_after ?? null));
        break;
      default: break;
    }
  });
  socket.addEventListener("close", (event) => {
    if (!finished && event.code !== 1000) {
      onError?.(new ApiError(0, { code: "connection_closed", detail: `The live connection closed (${event.code}).` }));
    }
    onClose?.();
  });
  const typed = term.onData((data) => send({ type: "stdin", data }));
  const resized = term.onResize(({ cols, rows }) => send({ type: "resize", cols, rows }));
  const observer = new ResizeObserver(() => { try { fit.fit(); } catch { /* hidden */ } });
  observer.observe(container);

  return {
    term,
    stop() {
      if (socket.readyState !== WebSocket.OPEN) return;
      send({ type: "signal", signal: "INT" });
      // a program that ignores the interrupt ends when the connection closes (billed for what ran)
      setTimeout(() => { if (!finished) socket.close(1000); }, 1500);
    },
    dispose() {
      observer.disconnect();
      typed.dispose();
      resized.dispose();
      if (socket.readyState <= WebSocket.OPEN) socket.close(1000);
      term.dispose();
    },
  };
}
