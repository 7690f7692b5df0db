"""The OpenAPI document's description: what the paths cannot say, the live-run protocols
(GET /codestudio/live is a WebSocket; POST /codestudio/run may answer as an event stream)."""

DESCRIPTION = """\
Run code in many languages, each run in its own sandbox. Authenticate with `Authorization: Bearer <key>`
or `X-API-Key: <key>`. Errors are RFC 9457 problems (`application/problem+json`) with a stable `code`.

## Live runs: `GET /codestudio/live` (WebSocket)

A live run is an execution like any other (rate limit, quotas, tier limits, usage and cost; a tier caps
how many live runs are queued or running at once: `live_concurrent`), whose caller talks to the program
while it runs. One connection, one run. Every frame is a JSON text frame with a `type`.

**Authentication**: the usual header on the upgrade request (a bad key: HTTP 401 before the upgrade),
or, for browsers, a first frame `{"type": "auth", "key": "..."}` within 5 s. A key in the URL
(`?key=`, `?api_key=`, ...) is refused (`key_in_url`). The upgrade counts as one request of the
caller's rate limit.

**Client to server**

| frame | fields |
|---|---|
| `auth` | `key` (only when the upgrade carried no key; first frame) |
| `start` | the fields of `POST /codestudio/run` (`stdin` is the first input), plus `tty` (false), `cols` (80), \
`rows` (24), `idempotency_key` (optional; see below) |
| `stdin` | `data` (text) or `data_b64` (bytes, base64) |
| `eof` | (closes the program's stdin; in terminal mode, ends the input) |
| `signal` | `signal`: INT, TERM, KILL, HUP, QUIT, USR1, USR2, CONT, STOP or WINCH (with or without SIG) |
| `resize` | `cols`, `rows` (1 to 1000; terminal mode) |

**Server to client**

| frame | fields |
|---|---|
| `accepted` | `execution_id` |
| `stage` | `stage` (`compile`, `run`), `state` (`start`, `end`); at the end `status`, `returncode`, `signal`; `seq` |
| `compile` | `data`, `seq`: the compiler's output |
| `stdout`, `stderr` | `data`, `seq` (pipe mode) |
| `output` | `data`, `seq` (terminal mode: the terminal's one stream) |
| `exit` | `result`: the execution as `GET /codestudio/executions/<id>` returns it; then the socket closes (1000) |
| `error` | `code`, `detail` (and the problem's members, e.g. `status`, `limit`, `errors`); then the socket closes |

`seq` numbers every event of the run from 1. Pipe mode keeps stdout and stderr apart and removes ANSI
and control sequences (even split across chunks); terminal mode (`tty: true`) runs the program on a
pseudo-terminal (`isatty()` is true, prompts without a newline appear at once, the terminal echoes input)
and passes escape sequences through on purpose. Limits: the run's wall-clock and CPU limits, an idle limit
(no input and no output), the output cap (`output_limit`). A caller that disconnects ends its run within
a second (`stopped`, billed for what ran). A live run is never run twice: if its worker is lost the caller
gets `worker_lost` and the execution ends `internal_error`.

**Idempotency-Key**: the upgrade request's `Idempotency-Key` header or the `start` frame's
`idempotency_key` (the same key, if both) makes a retried start safe: the same key from the same user
within 24 hours starts no second run. A live run cannot be joined again, so the repeated start is
answered with an error frame `idempotency_key_replayed` whose `execution_id` names the first start's
execution (`GET /codestudio/executions/<id>` has its result), then the socket closes (4409). The key with
another start (another body) or first used on another endpoint: `idempotency_key_reused` (4422); a
malformed key: `invalid_idempotency_key` (an HTTP 422 before the upgrade when it is the header's; 4422
when it is the frame's).

**Error codes and close codes.** A refusal of `start` carries the code the REST API gives
(`unknown_language`, `limit_exceeded`, `concurrency_limit`, `daily_quota_exceeded`, `rate_limited`,
`no_worker`, `validation_error`, ...) and closes with 4000 + its HTTP status (4401, 4409, 4413, 4422, 4429, 4503).
Bad frames: `invalid_json`, `unknown_type`, `binary_frame` (1003); `frame_too_large` (1009);
`already_started`, `not_started`, `already_authenticated`, `invalid_stdin`, `invalid_signal`,
`invalid_resize`, `input_flood`, `key_in_url`, `start_timeout`, `client_too_slow` (1008); `unauthorized`,
`invalid_api_key`, `auth_timeout` (4401). `worker_lost`, `internal_error` (1011); `server_busy` (1013: this
API process holds as many live connections as it may; retry). A finished run closes with 1000.

## Event stream: `POST /codestudio/run` with `Accept: text/event-stream`

The same run, streamed as Server-Sent Events: `accepted`, `stage`, `compile`, `stdout`, `stderr`, then
`exit` (or `error`); each event's `data` is the frame above, its `id` the `seq`. There is no input beyond the
request's `stdin` (the program's stdin ends after it). It is a live run (counts against `live_concurrent`).
With an `Idempotency-Key` a repeated request starts no second run: it streams the first request's run from
its start (its events are kept for a while; once they are gone, `accepted` and then `exit` when it has
ended), with `Idempotent-Replayed: true`; it only reads, and leaving it does not stop the run.

## Piston's `GET /api/v2/connect` (WebSocket)

Piston's interactive protocol as Piston speaks it: `init` (the `/api/v2/execute` fields) within 1 s, `data`
(`stream: "stdin"`), `signal` (`SIGINT`, ...); `runtime`, `stage`, `data`, `exit`, `error`; close codes
4000-4005 and 4999 (Job Completed). Authenticated like `/api/v2/execute` (the key on the upgrade).
"""
