package dev.palm4j.train.parallel;

import dev.palm4j.core.model.ParamLayout;
import dev.palm4j.core.model.ParamLayout.Split;
import dev.palm4j.core.model.ParamLayout.Tensor;

/**
 * Moves values between a device's layout (its slice of every tensor) and the full single-device
 * layout that checkpoints hold (DESIGN.md: checkpoints hold full tensors, so one written on any
 * mesh loads on any other). These are host transfers, device to host and back, as a real
 * checkpoint save and restore are.
 */
public final class Sharding {
    private Sharding() {}

    /**
     * Copies the device-layout elements {@code [from, to)} of {@code local}, read from
     * {@code src[srcOff ...]}, to their places in {@code dst} (full layout). Replicated tensors
     * are copied only when {@code replicated} (one model rank writes them; the others hold the
     * same values).
     */
    public static void toFull(ParamLayout local, int from, int to, float[] src, int srcOff, ParamLayout full, float[] dst,
                              boolean replicated) {
        copy(local, from, to, src, srcOff, full, dst, true, replicated);
    }

    /** The reverse of {@link #toFull}: fills {@code dst[dstOff ...]} with the local elements {@code [from, to)}. */
    public static void fromFull(ParamLayout full, float[] src, ParamLayout local, int from, int to, float[] dst, int dstOff) {
        copy(local, from, to, dst, dstOff, full, src, false, true);
    }

    /** The whole device layout to full. */
    public static void toFull(ParamLayout local, float[] src, ParamLayout full, float[] dst, boolean replicated) {
        toFull(local, 0, local.size(), src, 0, full, dst, replicated);
    }

    /** The whole device layout from full. */
    public static void fromFull(ParamLayout full, float[] src, ParamLayout local, float[] dst) {
        fromFull(full, src, local, 0, local.size(), dst, 0);
    }

    // Walks the row segments of every tensor overlapping [from, to) of the local layout.
    private static void copy(ParamLayout local, int from, int to, float[] loc, int locOff, ParamLayout full, float[] fullArr,
                             boolean toFull, boolean replicated) {
        for (Tensor t : local.tensors()) {
            int lo = Math.max(from, t.offset()), hi = Math.min(to, t.offset() + t.size());
            if (lo >= hi || (toFull && !replicated && t.split() == Split.REPLICATED)) continue;
            Tensor f = full.tensor(t.name());
            while (lo < hi) {
                int rel = lo - t.offset(), i = rel / t.cols(), j = rel % t.cols();
                int n = Math.min(hi - lo, t.cols() - j);
                int at = f.offset() + (t.rowStart() + i) * f.cols() + t.colStart() + j;
                if (toFull) System.arraycopy(loc, locOff + lo - from, fullArr, at, n);
                else System.arraycopy(fullArr, at, loc, locOff + lo - from, n);
                lo += n;
            }
        }
    }
}
