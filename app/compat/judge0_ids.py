"""Judge0 CE 1.13.1's language ids (from its own table) for the languages we serve, and its statuses.
Several ids may name one of our languages (Judge0 lists GCC 7, 8 and 9 apart); names carry the
version our live workers run."""
from __future__ import annotations

LANGUAGES: dict[int, tuple[str, str]] = {  # Judge0 id -> (our language id, name template)
    45: ("nasm", "Assembly (NASM {})"),
    46: ("bash", "Bash ({})"),
    48: ("c", "C (GCC {})"), 49: ("c", "C (GCC {})"), 50: ("c", "C (GCC {})"),
    51: ("csharp", "C# (Mono {})"),
    52: ("cpp", "C++ (GCC {})"), 53: ("cpp", "C++ (GCC {})"), 54: ("cpp", "C++ (GCC {})"),
    55: ("lisp", "Common Lisp (SBCL {})"),
    56: ("d", "D (GDC {})"),
    57: ("elixir", "Elixir ({})"),
    58: ("erlang", "Erlang (OTP {})"),
    59: ("fortran", "Fortran (GFortran {})"),
    60: ("go", "Go ({})"),
    61: ("haskell", "Haskell (GHC {})"),
    62: ("java", "Java (OpenJDK {})"),
    63: ("javascript", "JavaScript (Node.js {})"),
    64: ("lua", "Lua ({})"),
    65: ("ocaml", "OCaml ({})"),
    66: ("octave", "Octave ({})"),
    67: ("pascal", "Pascal (FPC {})"),
    68: ("php", "PHP ({})"),
    69: ("prolog", "Prolog (SWI-Prolog {})"),
    71: ("python", "Python ({})"),
    72: ("ruby", "Ruby ({})"),
    73: ("rust", "Rust ({})"),
    74: ("typescript", "TypeScript ({})"),
    77: ("cobol", "COBOL (GnuCOBOL {})"),
    78: ("kotlin", "Kotlin ({})"),
    79: ("objectivec", "Objective-C (GCC {})"),
    80: ("r", "R ({})"),
    81: ("scala", "Scala ({})"),
    83: ("swift", "Swift ({})"),
    85: ("perl", "Perl ({})"),
    86: ("clojure", "Clojure ({})"),
    88: ("groovy", "Groovy ({})"),
    90: ("dart", "Dart ({})"),
}

STATUSES = {1: "In Queue", 2: "Processing", 3: "Accepted", 4: "Wrong Answer", 5: "Time Limit Exceeded",
            6: "Compilation Error", 7: "Runtime Error (SIGSEGV)", 8: "Runtime Error (SIGXFSZ)",
            9: "Runtime Error (SIGFPE)", 10: "Runtime Error (SIGABRT)", 11: "Runtime Error (NZEC)",
            12: "Runtime Error (Other)", 13: "Internal Error", 14: "Exec Format Error"}
SIGNAL_STATUSES = {11: 7, 25: 8, 8: 9, 6: 10}  # signal number -> status id; any other signal: 12
