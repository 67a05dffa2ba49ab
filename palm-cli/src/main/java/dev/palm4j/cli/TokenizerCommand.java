package dev.palm4j.cli;

import dev.palm4j.core.InputException;
import dev.palm4j.core.kernels.Parallel;
import dev.palm4j.core.tokenizer.Tokenizer;
import dev.palm4j.train.data.TextSource;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code palm tokenizer train|encode|decode}: palm4j's byte-level BPE from the shell. */
@Command(name = "tokenizer",
        header = "Train a byte-level BPE tokenizer, or encode and decode with one.",
        synopsisSubcommandLabel = "COMMAND",
        subcommands = {TokenizerCommand.Train.class, TokenizerCommand.Encode.class, TokenizerCommand.Decode.class})
final class TokenizerCommand {

    @Command(name = "train",
            header = "Train a tokenizer on text and save it as palm-tokenizer.json.",
            description = {
                "Byte-level BPE: 256 byte tokens (nothing is ever unknown), the special tokens, then"
                    + " merges learned from the text until the vocabulary has --vocab-size entries."
                    + " Digits always stay single tokens and all whitespace is kept, so decoding"
                    + " gives back the exact input bytes. <eod> is always a special token.",
                "",
                "Examples:",
                "  palm tokenizer train --input data/cache/kjv --vocab-size 4096 --out tok.json",
                "  palm tokenizer train --input 'notes/*.txt' --vocab-size 1000 --out tok.json --special '<pad>'",
            })
    static final class Train implements Callable<Integer> {
        @Option(names = "--input", required = true, paramLabel = "PATH",
                description = "A text file, a directory of files, a glob, or kjv (the King James Bible, fetched from Debian packages); each file is one document.")
        String input;

        @Option(names = "--vocab-size", required = true, paramLabel = "N",
                description = "Vocabulary size: 256 bytes + special tokens + merges.")
        int vocabSize;

        @Option(names = "--out", required = true, paramLabel = "FILE", description = "Where to write the tokenizer.")
        Path out;

        @Option(names = "--special", paramLabel = "TOKEN", description = "An extra special token (repeatable).")
        List<String> specials = new ArrayList<>();

        @Override
        public Integer call() {
            TextSource source = TextInputs.of(input);
            long t0 = System.nanoTime();
            Tokenizer tok;
            try (Parallel par = Parallel.of(Runtime.getRuntime().availableProcessors())) {
                List<String> all = new ArrayList<>(List.of(Tokenizer.EOD));
                for (String s : specials) if (!all.contains(s)) all.add(s);
                tok = Tokenizer.train(source.readAll(), new Tokenizer.TrainOptions(vocabSize, all, 2), par);
            }
            tok.save(out);
            System.err.printf("palm: trained %d tokens (%d merges) on %d document(s), %.1f MB, in %.1f s -> %s%n",
                    tok.vocabSize(), tok.mergeCount(), source.files().size(), source.totalBytes() / 1e6,
                    (System.nanoTime() - t0) / 1e9, out);
            return 0;
        }
    }

    @Command(name = "encode",
            header = "Read all of stdin as bytes and print one line of space-separated token ids.",
            description = {"", "Example:", "  echo -n 'In the beginning' | palm tokenizer encode --tokenizer tok.json"})
    static final class Encode implements Callable<Integer> {
        @Option(names = "--tokenizer", required = true, paramLabel = "FILE", description = "palm-tokenizer.json")
        Path tokenizer;

        @Override
        public Integer call() throws IOException {
            Tokenizer tok = Tokenizer.load(tokenizer);
            int[] ids = tok.encode(System.in.readAllBytes());
            StringBuilder sb = new StringBuilder(ids.length * 5);
            for (int i = 0; i < ids.length; i++) {
                if (i > 0) sb.append(' ');
                sb.append(ids[i]);
            }
            PrintStream out = System.out;
            out.println(sb);
            out.flush();
            return 0;
        }
    }

    @Command(name = "decode",
            header = "Read whitespace-separated token ids from stdin and write their bytes, nothing added.",
            description = {"", "Example:", "  echo 73 110 | palm tokenizer decode --tokenizer tok.json"})
    static final class Decode implements Callable<Integer> {
        @Option(names = "--tokenizer", required = true, paramLabel = "FILE", description = "palm-tokenizer.json")
        Path tokenizer;

        @Override
        public Integer call() throws IOException {
            Tokenizer tok = Tokenizer.load(tokenizer);
            int[] ids = parseIds(System.in);
            OutputStream out = System.out;
            out.write(tok.decode(ids));
            out.flush();
            return 0;
        }

        static int[] parseIds(InputStream in) throws IOException {
            String text = new String(in.readAllBytes(), StandardCharsets.US_ASCII).trim();
            if (text.isEmpty()) return new int[0];
            String[] parts = text.split("\\s+");
            int[] ids = new int[parts.length];
            for (int i = 0; i < parts.length; i++) {
                try {
                    ids[i] = Integer.parseInt(parts[i]);
                } catch (NumberFormatException e) {
                    throw new InputException("'" + parts[i] + "' (item " + (i + 1) + " on stdin) is not a token id",
                            "give whitespace-separated non-negative integers");
                }
            }
            return ids;
        }
    }
}
