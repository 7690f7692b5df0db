// A first program for a language the user opens for the first time.
const SAMPLES = {
  python: 'name = input("Name: ")\nprint(f"Hello, {name}!")\n',
  pypy: 'print("Hello from PyPy")\n',
  javascript: 'console.log("Hello from JavaScript");\n',
  typescript: 'const greet = (who: string): string => `Hello, ${who}`;\nconsole.log(greet("TypeScript"));\n',
  java: 'public class Main {\n    public static void main(String[] args) {\n        System.out.println("Hello from Java");\n    }\n}\n',
  c: '#include <stdio.h>\n\nint main(void) {\n    printf("Hello from C\\n");\n    return 0;\n}\n',
  cpp: '#include <iostream>\n\nint main() {\n    std::cout << "Hello from C++" << std::endl;\n}\n',
  go: 'package main\n\nimport "fmt"\n\nfunc main() {\n\tfmt.Println("Hello from Go")\n}\n',
  rust: 'fn main() {\n    println!("Hello from Rust");\n}\n',
  ruby: 'puts "Hello from Ruby"\n',
  bash: 'echo "Hello from Bash"\n',
};

export const sampleFor = (id) => SAMPLES[id] ?? "";
