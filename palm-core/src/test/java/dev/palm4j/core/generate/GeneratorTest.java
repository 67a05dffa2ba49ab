package dev.palm4j.core.generate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.palm4j.core.InputException;
import dev.palm4j.core.kernels.Parallel;
import dev.palm4j.core.model.NormKind;
import dev.palm4j.core.model.PalmConfig;
import dev.palm4j.core.model.PalmModel;
import dev.palm4j.core.tokenizer.Tokenizer;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

class GeneratorTest {
    static final Parallel PAR = Parallel.of(2);
    static final Tokenizer TOK = Tokenizer.train(
            List.of("and the lord said unto moses, go down and see. ".repeat(30).getBytes(StandardCharsets.UTF_8)),
            Tokenizer.TrainOptions.of(280), PAR);
    static final PalmModel MODEL = new PalmModel(
            new PalmConfig(TOK.vocabSize(), 32, 2, 4, 8, 1, 2, NormKind.LAYERNORM, 1e-5f, 10000.0, 48, 1e-4f), PAR, 5);

    @AfterAll
    static void close() {
        PAR.close();
    }

    @Test
    void greedyIsDeterministicAndEqualsTopKOne() {
        Generator g = new Generator(MODEL, TOK);
        Generator.Result a = g.generate("and the", 12, Sampler.greedy(), List.of(), null);
        Generator.Result b = g.generate("and the", 12, Sampler.greedy(), List.of(), null);
        Generator.Result c = g.generate("and the", 12, new Sampler(0.8, 1, 1.0, 99), List.of(), null);
        assertArrayEquals(a.tokens(), b.tokens());
        assertArrayEquals(a.tokens(), c.tokens());
    }

    @Test
    void seededSamplingReproducesAndStreamsExactlyTheText() {
        Generator g = new Generator(MODEL, TOK);
        ByteArrayOutputStream streamed = new ByteArrayOutputStream();
        Generator.Result a = g.generate("go", 20, new Sampler(1.0, 0, 0.95, 7), List.of(), (t, bytes) -> streamed.writeBytes(bytes));
        Generator.Result b = g.generate("go", 20, new Sampler(1.0, 0, 0.95, 7), List.of(), null);
        assertArrayEquals(a.tokens(), b.tokens());
        assertArrayEquals(a.text(), streamed.toByteArray());
        assertArrayEquals(TOK.decode(a.tokens()), a.text());
        assertTrue(a.tokens().length <= 20);
    }

    @Test
    void aStopStringEndsGenerationAndIsNeverEmitted() {
        Generator g = new Generator(MODEL, TOK);
        Generator.Result free = g.generate("and", 40, Sampler.greedy(), List.of(), null);
        String text = free.textString();
        if (text.length() < 4) return; // nothing to cut
        String stop = text.substring(2, 4);
        ByteArrayOutputStream streamed = new ByteArrayOutputStream();
        Generator.Result cut = g.generate("and", 40, Sampler.greedy(), List.of(stop), (t, bytes) -> streamed.writeBytes(bytes));
        assertEquals(Generator.Stop.STOP_STRING, cut.stop());
        assertEquals(text.substring(0, text.indexOf(stop)), cut.textString());
        assertArrayEquals(cut.text(), streamed.toByteArray());
        assertFalse(cut.textString().contains(stop));
    }

    @Test
    void tooLongPromptIsAClearError() {
        Generator g = new Generator(MODEL, TOK);
        InputException e = assertThrows(InputException.class,
                () -> g.generate("x y z ".repeat(200), 5, Sampler.greedy(), List.of(), null));
        assertTrue(e.getMessage().contains("longer than the model's context"), e.getMessage());
    }

    @Test
    void aTokenizerOfAnotherVocabularyIsRefused() {
        Tokenizer other = Tokenizer.train(List.of("the quick brown fox, the lazy dog. ".repeat(30).getBytes(StandardCharsets.UTF_8)),
                Tokenizer.TrainOptions.of(TOK.vocabSize() - 5), PAR);
        InputException e = assertThrows(InputException.class, () -> new Generator(MODEL, other));
        assertEquals("the tokenizer has " + other.vocabSize() + " tokens but the model's vocab is " + TOK.vocabSize(), e.problem());
        assertEquals("use the tokenizer saved with the checkpoint", e.hint());
    }

    @Test
    void outOfRangeSamplingValuesAreRefused() {
        assertTrue(assertThrows(InputException.class, () -> new Sampler(Double.POSITIVE_INFINITY, 0, 1, 0)).problem()
                .contains("must be a finite number >= 0"));
        assertTrue(assertThrows(InputException.class, () -> new Sampler(Double.NaN, 0, 1, 0)).problem().contains("--temperature NaN"));
        assertTrue(assertThrows(InputException.class, () -> new Sampler(1, -1, 1, 0)).problem().contains("--top-k -1"));
        assertTrue(assertThrows(InputException.class, () -> new Sampler(1, 0, 1.01, 0)).problem().contains("must be in (0, 1]"));
        assertTrue(assertThrows(InputException.class, () -> new Sampler(1, 0, Double.NaN, 0)).problem().contains("--top-p NaN"));
        assertTrue(assertThrows(InputException.class, () -> new Generator(MODEL, TOK).generate("and", -1, Sampler.greedy(), List.of(), null))
                .problem().contains("--max-tokens -1"));
    }

    @Test
    void samplerRespectsTopKAndTemperature() {
        float[] logits = {0f, 3f, 1f, 2.5f};
        assertEquals(1, Sampler.greedy().sample(logits));
        Sampler top2 = new Sampler(1.0, 2, 1.0, 3);
        int[] counts = new int[4];
        for (int i = 0; i < 4000; i++) counts[top2.sample(logits)]++;
        assertEquals(0, counts[0] + counts[2], "only the top 2 tokens may be drawn");
        double expected1 = 1 / (1 + Math.exp(-0.5)); // softmax over {3, 2.5}
        assertEquals(expected1, counts[1] / 4000.0, 0.03);
        assertThrows(InputException.class, () -> new Sampler(-1, 0, 1, 0));
        assertThrows(InputException.class, () -> new Sampler(1, 0, 0, 0));
    }
}
