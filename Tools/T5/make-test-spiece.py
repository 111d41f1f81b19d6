#!/usr/bin/env python3
"""Trains the small SentencePiece model used by the tokenizer tests (Tests/Data/t5/spiece.model).

T5 layout: Unigram, pad=0, eos=1, unk=2, no bos, nmt_nfkc normalization (the precompiled charsmap the tests
exercise), character coverage below 1 so that rare characters are unknown. Needs Debian's `sentencepiece`
package (spm_train). The corpus is generated here from a fixed seed, so the model is reproducible.
"""
import random, subprocess, sys, tempfile, os

out = sys.argv[1] if len(sys.argv) > 1 else "Tests/Data/t5/spiece"
rng = random.Random(1234)
words = ("a dog cat red fox wearing virtual reality goggles in sunset high resolution photo of the "
         "mountain river city night sky painting portrait woman man child tree forest ocean beach "
         "house car street light dark blue green yellow golden shiny old new small big beautiful "
         "detailed realistic cinematic lighting 4k 8k art style watercolor oil anime sketch "
         "under over with and or by from at on is was are 1024 2024 100 3.14 1,000 10,000 ,000 "
         "café naïve résumé über straße jalapeño façade москва кот собака город ночь "
         "ひらがな カタカナ 東京 猫 犬 한국어 שלום مرحبا ελληνικά").split()
punct = list(".,;:!?-()\"'") + ["..."]
lines = []
for _ in range(6000):
    n = rng.randint(3, 18)
    s = []
    for _ in range(n):
        w = rng.choice(words)
        if rng.random() < 0.2: w = w.capitalize()
        if rng.random() < 0.1: w = w.upper()
        s.append(w)
        if rng.random() < 0.15: s.append(rng.choice(punct))
    lines.append(" ".join(s))
with tempfile.TemporaryDirectory() as d:
    corpus = os.path.join(d, "corpus.txt")
    open(corpus, "w", encoding="utf-8").write("\n".join(lines) + "\n")
    r = subprocess.run(["spm_train", f"--input={corpus}", f"--model_prefix={out}", "--model_type=unigram",
                    "--vocab_size=400", "--character_coverage=0.995", "--pad_id=0", "--eos_id=1",
                    "--unk_id=2", "--bos_id=-1", "--normalization_rule_name=nmt_nfkc",
                    "--num_threads=1", "--seed_sentencepiece_size=20000"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
os.remove(out + ".vocab")
