import java.net.*;
import java.util.*;
public class Main {
    public static void main(String[] args) throws Exception {
        List<String> names = new ArrayList<>();
        for (NetworkInterface n : Collections.list(NetworkInterface.getNetworkInterfaces())) names.add(n.getName());
        System.out.println(names);
        for (String host : new String[] {"127.0.0.1", "8.8.8.8", "::1"}) {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress(host, 22), 2000);
                System.out.println(host + " CONNECTED");
            } catch (Exception e) {
                System.out.println(host + " " + e.getMessage());
            }
        }
        try {
            InetAddress.getByName("pypi.org");
            System.out.println("dns resolved");
        } catch (UnknownHostException e) {
            System.out.println("dns " + e.getClass().getSimpleName());
        }
    }
}
