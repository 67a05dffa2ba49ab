package dev.palm4j.cli;

import dev.palm4j.core.InputException;
import dev.palm4j.core.tokenizer.Tokenizer;
import dev.palm4j.train.checkpoint.Checkpoints;
import java.io.IOException;
import java.nio.file.Path;

/**
 * A command's {@code --checkpoint PATH}: loaded the same way by generate, eval and info. A run
 * directory whose newest checkpoint fails verification falls back to the newest one that
 * verifies; each one passed over is reported on stderr (which file, expected and found), so a
 * fallback is never silent.
 */
final class CheckpointArg {
    private CheckpointArg() {}

    /** The model weights of {@code path} (no optimizer state), with any skipped checkpoint reported. */
    static Checkpoints.Loaded loadModel(Path path) throws IOException {
        Checkpoints.Loaded l = Checkpoints.loadModel(path);
        for (String s : l.skipped()) System.err.println("palm: warning: skipped checkpoint " + s);
        if (!l.skipped().isEmpty()) System.err.println("palm: note: using " + l.dir() + ", the newest checkpoint that verifies");
        return l;
    }

    /**
     * The checkpoint's own tokenizer, which must match the model's vocabulary.
     *
     * @param withoutOne what to do when the checkpoint has none (the hint of that error)
     */
    static Tokenizer tokenizer(Checkpoints.Loaded l, String withoutOne) {
        if (l.tokenizer() == null) throw new InputException(l.dir() + " holds no " + Checkpoints.TOKENIZER, withoutOne);
        Tokenizer tok = Tokenizer.load(l.tokenizer());
        int vocab = l.checkpoint().config().vocab();
        if (tok.vocabSize() != vocab)
            throw new InputException(l.tokenizer() + " has " + tok.vocabSize() + " tokens but the model's vocab is " + vocab
                    + ": the tokenizer is from another run", "use the " + Checkpoints.TOKENIZER + " saved with this checkpoint");
        return tok;
    }
}
