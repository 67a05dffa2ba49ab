package dev.palm4j.core.model;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.palm4j.core.kernels.Parallel;
import java.util.Random;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The model is shard-aware: {@code size} shards on a model axis, each holding its slice of heads
 * and FFN columns and summing partials through a {@link ModelGroup}, compute the loss and the
 * gradients of the single-device model. The group here is a minimal in-test one (threads and a
 * barrier); palm-train supplies the real simulated devices.
 */
class ShardedModelTest {

    /** All-reduce over threads: every rank publishes its buffer, rank order sums, all copy back. */
    static final class BarrierGroup {
        final int size;
        final CyclicBarrier barrier;
        final float[][] bufs;
        final int[] offs;

        BarrierGroup(int size) {
            this.size = size;
            this.barrier = new CyclicBarrier(size);
            this.bufs = new float[size][];
            this.offs = new int[size];
        }

        ModelGroup member(int rank) {
            return new ModelGroup() {
                @Override public int rank() { return rank; }
                @Override public int size() { return size; }
                @Override public void allReduceSum(float[] buf, int off, int len) {
                    try {
                        bufs[rank] = buf;
                        offs[rank] = off;
                        barrier.await();
                        float[] sum = new float[len];
                        for (int r = 0; r < size; r++)
                            for (int i = 0; i < len; i++) sum[i] += bufs[r][offs[r] + i];
                        barrier.await();
                        System.arraycopy(sum, 0, buf, off, len);
                        barrier.await();
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                }
            };
        }
    }

    @ParameterizedTest(name = "model axis {0}, heads {1}, kv {2}")
    @CsvSource({"2,4,1", "2,4,2", "4,4,4", "2,2,1"})
    void shardsReproduceTheSingleDeviceLossAndGradients(int size, int heads, int kv) throws Exception {
        PalmConfig c = new PalmConfig(17, 16, 2, heads, 4, kv, 2, NormKind.LAYERNORM, 1e-5f, 10000.0, 16, 1e-4f);
        int B = 2, T = 6;
        Random rng = new Random(size * 10 + kv);
        int[] in = new int[B * T], tg = new int[B * T];
        for (int i = 0; i < in.length; i++) {
            in[i] = rng.nextInt(c.vocab());
            tg[i] = rng.nextInt(c.vocab());
        }
        PalmModel single = new PalmModel(c, Parallel.SERIAL, 5);
        PalmModel.Loss want = single.forwardBackward(in, tg, B, T, 1f / (B * T));

        BarrierGroup group = new BarrierGroup(size);
        ExecutorService pool = Executors.newFixedThreadPool(size);
        try {
            @SuppressWarnings("unchecked")
            Future<PalmModel>[] shards = new Future[size];
            PalmModel.Loss[] losses = new PalmModel.Loss[size];
            for (int r = 0; r < size; r++) {
                int rank = r;
                shards[r] = pool.submit(() -> {
                    PalmModel m = new PalmModel(c, Parallel.SERIAL, group.member(rank));
                    m.initialize(5);
                    losses[rank] = m.forwardBackward(in, tg, B, T, 1f / (B * T));
                    return m;
                });
            }
            for (int r = 0; r < size; r++) {
                PalmModel m = shards[r].get();
                assertEquals(want.loss(), losses[r].loss(), 1e-5 * Math.abs(want.loss()), "loss on rank " + r);
                for (ParamLayout.Tensor t : m.layout.tensors()) {
                    ParamLayout.Tensor full = single.layout.tensor(t.name());
                    for (int i = 0; i < t.rows(); i++)
                        for (int j = 0; j < t.cols(); j++) {
                            float gw = m.params()[t.offset() + i * t.cols() + j];
                            int fi = full.offset() + (t.rowStart() + i) * full.cols() + t.colStart() + j;
                            assertEquals(single.params()[fi], gw, "weight slice " + t.name());
                            float got = m.grads()[t.offset() + i * t.cols() + j], exp = single.grads()[fi];
                            assertEquals(exp, got, 1e-5 + 1e-4 * Math.abs(exp), "grad " + t.name() + " rank " + r);
                        }
                }
            }
        } finally {
            pool.shutdownNow();
        }
    }
}
