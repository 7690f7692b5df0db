// A JVM compiler started ahead of need in its own compile jail (`WarmCompiler javac|kotlinc`).
// It compiles one throw-away program, so the compiler's classes are loaded and its hot paths
// compiled, then waits for the real compile: that compile command's argv, NUL-separated, on
// stdin. It runs the compiler once in this JVM on the command's compiler arguments and exits
// with the compiler's exit code. One compile per jail; an empty stdin means "not needed".
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.lang.reflect.Method;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import javax.tools.ToolProvider;

public class WarmCompiler {
    private static final String KOTLIN_MAIN = "org.jetbrains.kotlin.cli.jvm.K2JVMCompiler";

    public static void main(String[] tool) throws Exception {
        boolean kotlin = tool.length > 0 && tool[0].equals("kotlinc");
        Path warm = Files.createTempDirectory("warm");
        if (kotlin) {
            Path source = Files.writeString(warm.resolve("Warm.kt"),
                "fun main(args: Array<String>) { val l = args.map { it.trim() }; println(l.joinToString(\",\") + l.size) }\n");
            kotlinc("-no-reflect", "-nowarn", "-d", warm.toString(), source.toString());
        } else {
            Path source = Files.writeString(warm.resolve("Warm.java"),
                "import java.util.*; public class Warm { public static void main(String[] a) { List<String> l = new ArrayList<>();"
                + " for (String s : a) l.add(s.strip()); System.out.println(String.join(\",\", l) + l.size()); } }\n");
            javac("-proc:none", "-d", warm.toString(), source.toString());
        }
        ByteArrayOutputStream request = new ByteArrayOutputStream();
        System.in.transferTo(request);
        if (request.size() == 0) {
            System.exit(0);
        }
        List<String> argv = Arrays.asList(request.toString(StandardCharsets.UTF_8).split("\0"));
        System.exit(kotlin ? kotlinc(afterKotlinMain(argv)) : javac(javacArgs(argv)));
    }

    // javac's own arguments: the command name and launcher-only -J options dropped; like javac
    // started in /work, the user's classes are found there unless the command says otherwise
    private static String[] javacArgs(List<String> argv) {
        List<String> args = new ArrayList<>(List.of("-classpath", "."));
        for (String arg : argv.subList(1, argv.size())) {
            if (!arg.startsWith("-J")) {
                args.add(arg);
            }
        }
        return args.toArray(new String[0]);
    }

    // the compile command runs `java … K2JVMCompiler <compiler arguments>`
    private static String[] afterKotlinMain(List<String> argv) {
        int at = argv.indexOf(KOTLIN_MAIN);
        return argv.subList(at + 1, argv.size()).toArray(new String[0]);
    }

    private static int javac(String... args) {
        return ToolProvider.getSystemJavaCompiler().run(null, System.out, System.err, args);
    }

    private static int kotlinc(String... args) throws Exception {
        Class<?> compiler = Class.forName(KOTLIN_MAIN);
        Method exec = compiler.getMethod("exec", PrintStream.class, String[].class);
        Object exitCode = exec.invoke(compiler.getConstructor().newInstance(), System.err, args);
        return (int) exitCode.getClass().getMethod("getCode").invoke(exitCode);
    }
}
