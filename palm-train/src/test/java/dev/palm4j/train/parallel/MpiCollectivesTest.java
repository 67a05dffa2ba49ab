package dev.palm4j.train.parallel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Every collective of {@link MpiCommunicator} under mpirun at 2 and 4 ranks (4 oversubscribe the
 * cores): sums against exact values, at 2 ranks bitwise the in-process ring's, beyond within
 * 1e-6; the same bits on every rank; ranges left alone outside; chunked calls; byte counts equal
 * to the in-process ring's ({@link MpiCollectivesChild} does the checking in each rank).
 */
class MpiCollectivesTest {
    @BeforeEach
    void needsMpi() {
        Mpirun.assumeAvailable();
    }

    @ParameterizedTest(name = "{0} ranks{1}")
    @CsvSource({"2,chunks", "4,''"})
    void everyCollectiveGivesTheExpectedValuesOnEveryRank(int ranks, String mode, @TempDir Path dir) throws Exception {
        Mpirun.Result r = Mpirun.run(ranks, dir.resolve("mpirun.log"), 120, MpiCollectivesChild.class, mode);
        assertEquals(0, r.exitCode(), r.output());
        for (int rank = 0; rank < ranks; rank++) assertTrue(r.output().contains("rank " + rank + " ok:"), r.output());
    }
}
