public class Main { public static void main(String[] a) { var kept = new java.util.ArrayList<byte[]>(); while (true) kept.add(new byte[1 << 20]); } }
