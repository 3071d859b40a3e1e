/*
 * Starts de.bwaldvogel's mongo-java-server with its in-memory backend on
 * 127.0.0.1 and a free port, writes the port to the file named by the first
 * argument once it listens, and serves until killed. Run by
 * scripts/mongo-java-server.sh as a single-file source program (java
 * Launcher.java), so nothing is compiled into the repository.
 */
import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.backend.memory.MemoryBackend;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;

public class Launcher {
    public static void main(String[] args) throws Exception {
        if (args.length != 1) {
            System.err.println("usage: Launcher PORT_FILE");
            System.exit(2);
        }
        MongoServer server = new MongoServer(new MemoryBackend());
        server.bind("127.0.0.1", 0);
        InetSocketAddress addr = server.getLocalAddress();
        Path tmp = Path.of(args[0] + ".tmp");
        Files.writeString(tmp, addr.getPort() + "\n");
        Files.move(tmp, Path.of(args[0]));
        Runtime.getRuntime().addShutdownHook(new Thread(server::shutdownNow));
        Thread.currentThread().join();
    }
}
