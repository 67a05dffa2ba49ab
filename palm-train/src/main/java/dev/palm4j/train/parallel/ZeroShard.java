package dev.palm4j.train.parallel;

import dev.palm4j.core.model.ParamLayout;
import dev.palm4j.core.model.ParamLayout.Split;
import dev.palm4j.core.model.ParamLayout.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * ZeRO stage 1 (Rajbhandari et al. 2020): the optimizer state of a device's layout split over
 * the data axis. Each gradient bucket ({@link ParamLayout#bucketStart}) is cut into one piece per
 * data rank, the pieces reduce-scatter leaves on each rank ({@link Collectives#pieceStart}); a
 * rank's shard is its piece of every bucket, stored back to back ("compact"). The optimizer
 * updates the shard, then all-gather puts the updated parameters on every rank.
 */
public final class ZeroShard {
    public final int rank, ranks;
    /** Per bucket: the piece's first element in the device layout, its length, its offset in the shard. */
    final int[] pieceFrom, pieceLen, shardOff;
    /** Floats in this rank's shard. */
    public final int size;
    /**
     * The layout's tensors clipped to this shard, at shard offsets, as the optimizer sees them:
     * every tensor appears (possibly empty) so all ranks keep the same order of per-tensor
     * statistics, and each counts as split (its RMS needs a sum over the data axis).
     */
    public final List<Tensor> tensors;

    public ZeroShard(ParamLayout layout, int rank, int ranks) {
        this.rank = rank;
        this.ranks = ranks;
        int nb = layout.buckets();
        pieceFrom = new int[nb];
        pieceLen = new int[nb];
        shardOff = new int[nb];
        int at = 0;
        for (int b = 0; b < nb; b++) {
            int from = layout.bucketStart(b), len = layout.bucketEnd(b) - from;
            pieceFrom[b] = from + Collectives.pieceStart(len, ranks, rank);
            pieceLen[b] = from + Collectives.pieceStart(len, ranks, rank + 1) - pieceFrom[b];
            shardOff[b] = at;
            at += pieceLen[b];
        }
        size = at;
        List<Tensor> clipped = new ArrayList<>();
        for (Tensor t : layout.tensors()) {
            int b = bucketOf(layout, t.offset());
            int lo = Math.max(t.offset(), pieceFrom[b]), hi = Math.min(t.offset() + t.size(), pieceFrom[b] + pieceLen[b]);
            int len = Math.max(0, hi - lo), off = len == 0 ? shardOff[b] : shardOff[b] + lo - pieceFrom[b];
            clipped.add(new Tensor(t.name(), 1, len, off, t.fullRows(), t.fullCols(), 0, 0,
                    ranks > 1 ? Split.ROWS : t.split(), t.vector()));
        }
        tensors = List.copyOf(clipped);
    }

    private static int bucketOf(ParamLayout layout, int offset) {
        for (int b = 0; b < layout.buckets(); b++) if (offset < layout.bucketEnd(b)) return b;
        throw new IllegalArgumentException("offset " + offset);
    }

    /** Number of buckets. */
    public int buckets() {
        return pieceFrom.length;
    }

    /** Copies this rank's pieces of {@code local} (device layout) into {@code shard}. */
    public void gather(float[] local, float[] shard) {
        for (int b = 0; b < pieceFrom.length; b++) System.arraycopy(local, pieceFrom[b], shard, shardOff[b], pieceLen[b]);
    }

    /** Copies the piece of bucket {@code b} from {@code local} into {@code shard}. */
    public void gather(int b, float[] local, float[] shard) {
        System.arraycopy(local, pieceFrom[b], shard, shardOff[b], pieceLen[b]);
    }

    /** Writes {@code shard} back to this rank's pieces of {@code local}. */
    public void scatter(float[] shard, float[] local) {
        for (int b = 0; b < pieceFrom.length; b++) System.arraycopy(shard, shardOff[b], local, pieceFrom[b], pieceLen[b]);
    }

    /** Piece {@code b}: first device-layout element, length, and shard offset. */
    public int pieceFrom(int b) { return pieceFrom[b]; }

    public int pieceLen(int b) { return pieceLen[b]; }

    public int shardOff(int b) { return shardOff[b]; }
}
