// A javac started ahead of need in its own compile jail. It compiles one throw-away program so javac's classes are loaded and
// its hot paths compiled, then waits for the real compile: the compile command's argv,
// NUL-separated, on stdin. It runs that once in this JVM (launcher-only -J options and the
// command name are dropped) and exits with javac's exit code. One compile per jail.
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;

public class WarmJavac {
    private static final String WARM_UP = "import java.util.*;\n"
        + "public class Warm { public static void main(String[] a) { List<String> l = new ArrayList<>();\n"
        + " for (String s : a) l.add(s.strip()); System.out.println(String.join(\",\", l) + l.size()); } }\n";

    public static void main(String[] ignored) throws Exception {
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        Path warm = Files.createTempDirectory("warm");
        Path source = Files.writeString(warm.resolve("Warm.java"), WARM_UP);
        javac.run(null, null, null, "-proc:none", "-d", warm.toString(), source.toString());
        byte[] request = readAll(System.in);
        if (request.length == 0) {
            System.exit(0);  // the worker let this jail go unused
        }
        // like javac started in /work: the user's classes are found there unless the command says otherwise
        List<String> args = new ArrayList<>(List.of("-classpath", "."));
        String[] argv = new String(request, StandardCharsets.UTF_8).split("\0");
        for (int i = 1; i < argv.length; i++) {
            if (!argv[i].startsWith("-J")) {
                args.add(argv[i]);
            }
        }
        System.exit(javac.run(null, System.out, System.err, args.toArray(new String[0])));
    }

    private static byte[] readAll(InputStream in) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        in.transferTo(out);
        return out.toByteArray();
    }
}
