package dev.palm4j.core.model;

/**
 * The model-parallel axis as the model sees it: the devices that each hold a slice of every
 * block (some query heads and FFN columns) and sum their partial results. On one device it is
 * {@link #SINGLE}, whose all-reduce does nothing. palm-train implements it over simulated
 * devices; the model code is the same for any mesh.
 */
public interface ModelGroup {
    /** This device's position on the model axis, 0 .. size-1. */
    int rank();

    /** Number of devices on the model axis. */
    int size();

    /** Sums {@code buf[off, off+len)} element-wise over the group, in place on every member. */
    void allReduceSum(float[] buf, int off, int len);

    ModelGroup SINGLE = new ModelGroup() {
        @Override public int rank() { return 0; }
        @Override public int size() { return 1; }
        @Override public void allReduceSum(float[] buf, int off, int len) {}
    };
}
