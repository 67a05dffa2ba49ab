package dev.palm4j.cli;

import dev.palm4j.core.kernels.Simd;
import java.io.IOException;
import java.io.InputStream;
import java.util.Properties;
import picocli.CommandLine.IVersionProvider;

/** {@code palm --version}: the palm4j version, the JDK, and the vector width the kernels use. */
public final class VersionProvider implements IVersionProvider {

    @Override
    public String[] getVersion() {
        Runtime.Version jdk = Runtime.version();
        return new String[] {
            "palm4j " + palmVersion(),
            "JDK " + jdk + " (" + System.getProperty("java.vm.name") + ", " + System.getProperty("java.vendor")
                    + ") on " + System.getProperty("os.name") + " " + System.getProperty("os.arch")
                    + ", " + Runtime.getRuntime().availableProcessors() + " CPUs",
            vectors(),
        };
    }

    /** The Maven project version, put into version.properties when the jar is built. */
    public static String palmVersion() {
        try (InputStream in = VersionProvider.class.getResourceAsStream("version.properties")) {
            if (in == null) return "unknown";
            Properties p = new Properties();
            p.load(in);
            String v = p.getProperty("version", "unknown");
            return v.startsWith("${") ? "unknown (resources not filtered)" : v;
        } catch (IOException e) {
            return "unknown";
        }
    }

    private static String vectors() {
        try {
            return "vectors: " + Simd.bits() + "-bit floats (" + Simd.LANES + " lanes), CPU prefers "
                    + Simd.preferredBits() + "-bit; set with -D" + Simd.WIDTH_PROPERTY;
        } catch (ExceptionInInitializerError e) { // a bad -Dpalm4j.vector.bits value
            return "vectors: unavailable: " + e.getCause().getMessage();
        } catch (LinkageError e) { // java was started without --add-modules jdk.incubator.vector
            return "vectors: unavailable: the Vector API module is not loaded"
                    + " (run java with --add-modules jdk.incubator.vector)";
        }
    }
}
