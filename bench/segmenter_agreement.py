"""Thai text for bench/segmenter_agreement.sh: deepcut's inputs built from PyThaiNLP's corpora, and the table.

  segmenter_agreement.py data OUT_DIR [TEST_TEXTS]   writes cal.{0,1}.npy, words.{0,1}.npy, words.gold.npy,
                                                    titles.{0,1}.npy and texts.json (the texts, for the table)
  segmenter_agreement.py table OUT_DIR               prints the Markdown table from the predict outputs
                                                    OUT_DIR/{words,titles}.{fp32,bf16,int8}.npy

Text (pythainlp 5.4.0's corpus folder, bench/requirements.txt):
- words: sentences of words drawn by their frequency in the Thai National Corpus (tnc_freq.txt), seeded; the
  word starts are known, so each character's decision (does a word start here?) has a true label;
- titles: Thai Wikipedia titles (wikipedia_titles_th.txt, CC BY-SA 4.0), real running text without labels:
  agreement only.
Calibration uses other sentences and titles than the test (other seeds, other lines).

deepcut's encoding (deepcut 0.7.0.0, deepcut/utils.py, MIT licence, copied below): for each character, the 10
characters after it, the 10 before it (nearest first) and itself, as character ids and character-type ids;
the model's output for that row is the probability that a word starts at the character (> 0.5: it does).
"""
import importlib.util
import json
import os
import random
import sys

import numpy as np

# --- deepcut 0.7.0.0, deepcut/utils.py (MIT) ---
CHAR_TYPE = {
    u'กขฃคฆงจชซญฎฏฐฑฒณดตถทธนบปพฟภมยรลวศษสฬอ': 'c',
    u'ฅฉผฟฌหฮ': 'n',
    u'ะาำิีืึุู': 'v',
    u'เแโใไ': 'w',
    u'่้๊๋': 't',
    u'์ๆฯ.': 's',
    u'0123456789๑๒๓๔๕๖๗๘๙': 'd',
    u'"': 'q',
    u"‘": 'q',
    u"’": 'q',
    u"'": 'q',
    u' ': 'p',
    u'abcdefghijklmnopqrstuvwxyz': 's_e',
    u'ABCDEFGHIJKLMNOPQRSTUVWXYZ': 'b_e'
}
CHAR_TYPE_FLATTEN = {k: v for ks, v in CHAR_TYPE.items() for k in ks}
CHARS = [
    u'\n', u' ', u'!', u'"', u'#', u'$', u'%', u'&', "'", u'(', u')', u'*', u'+',
    u',', u'-', u'.', u'/', u'0', u'1', u'2', u'3', u'4', u'5', u'6', u'7', u'8',
    u'9', u':', u';', u'<', u'=', u'>', u'?', u'@', u'A', u'B', u'C', u'D', u'E',
    u'F', u'G', u'H', u'I', u'J', u'K', u'L', u'M', u'N', u'O', u'P', u'Q', u'R',
    u'S', u'T', u'U', u'V', u'W', u'X', u'Y', u'Z', u'[', u'\\', u']', u'^', u'_',
    u'a', u'b', u'c', u'd', u'e', u'f', u'g', u'h', u'i', u'j', u'k', u'l', u'm',
    u'n', u'o', u'other', u'p', u'q', u'r', u's', u't', u'u', u'v', u'w', u'x', u'y',
    u'z', u'}', u'~', u'ก', u'ข', u'ฃ', u'ค', u'ฅ', u'ฆ', u'ง', u'จ', u'ฉ', u'ช',
    u'ซ', u'ฌ', u'ญ', u'ฎ', u'ฏ', u'ฐ', u'ฑ', u'ฒ', u'ณ', u'ด', u'ต', u'ถ', u'ท',
    u'ธ', u'น', u'บ', u'ป', u'ผ', u'ฝ', u'พ', u'ฟ', u'ภ', u'ม', u'ย', u'ร', u'ฤ',
    u'ล', u'ว', u'ศ', u'ษ', u'ส', u'ห', u'ฬ', u'อ', u'ฮ', u'ฯ', u'ะ', u'ั', u'า',
    u'ำ', u'ิ', u'ี', u'ึ', u'ื', u'ุ', u'ู', u'ฺ', u'เ', u'แ', u'โ', u'ใ', u'ไ',
    u'ๅ', u'ๆ', u'็', u'่', u'้', u'๊', u'๋', u'์', u'ํ', u'๐', u'๑', u'๒', u'๓',
    u'๔', u'๕', u'๖', u'๗', u'๘', u'๙', u'‘', u'’', u'\ufeff'
]
CHARS_MAP = {v: k for k, v in enumerate(CHARS)}
CHAR_TYPES = ['b_e', 'c', 'd', 'n', 'o', 'p', 'q', 's', 's_e', 't', 'v', 'w']
CHAR_TYPES_MAP = {v: k for k, v in enumerate(CHAR_TYPES)}


def create_feature_array(text, n_pad=21):
    n = len(text)
    n_pad_2 = int((n_pad - 1) / 2)
    text_pad = [' '] * n_pad_2 + [t for t in text] + [' '] * n_pad_2
    x_char, x_type = [], []
    for i in range(n_pad_2, n_pad_2 + n):
        char_list = text_pad[i + 1: i + n_pad_2 + 1] + list(reversed(text_pad[i - n_pad_2: i])) + [text_pad[i]]
        x_char.append([CHARS_MAP.get(c, 80) for c in char_list])
        x_type.append([CHAR_TYPES_MAP.get(CHAR_TYPE_FLATTEN.get(c, 'o'), 4) for c in char_list])
    return np.array(x_char, dtype=np.float32), np.array(x_type, dtype=np.float32)
# --- end of deepcut's code ---

THAI = set(c for c in CHARS if '\u0e00' <= c <= '\u0e7f')


def corpus(name):
    spec = importlib.util.find_spec("pythainlp")
    if spec is None:
        sys.exit("pythainlp is not installed (pip install -r bench/requirements.txt)")
    return os.path.join(spec.submodule_search_locations[0], "corpus", name)


def sentences(rng, words, weights, count, lo=30, hi=120):
    """`count` sentences of words drawn by frequency, each lo..hi characters; with their word-start labels."""
    out = []
    for _ in range(count):
        target = rng.randint(lo, hi)
        text, gold = "", []
        while len(text) < target:
            w = rng.choices(words, weights)[0]
            gold += [1] + [0] * (len(w) - 1)
            text += w
        out.append((text, gold))
    return out


def encode(texts):
    chars, types = zip(*(create_feature_array(t) for t in texts))
    return np.concatenate(chars), np.concatenate(types)


def data(out, test_texts):
    words, weights = [], []
    for line in open(corpus("tnc_freq.txt"), encoding="utf-8"):
        w, _, f = line.rstrip("\n").partition("\t")
        if w and all(c in THAI for c in w) and f.isdigit():
            words.append(w)
            weights.append(int(f))
    titles = [t.strip() for t in open(corpus("wikipedia_titles_th.txt"), encoding="utf-8")
              if not t.startswith("#") and len(t.strip()) >= 8 and all(c in THAI for c in t.strip())]
    random.Random(0).shuffle(titles)
    test = sentences(random.Random(1), words, weights, test_texts)
    cal = sentences(random.Random(2), words, weights, 40)
    test_titles, cal_titles = titles[:test_texts * 4], titles[test_texts * 4: test_texts * 4 + 100]
    for name, texts in [("cal", [t for t, _ in cal] + cal_titles), ("words", [t for t, _ in test]), ("titles", test_titles)]:
        c, t = encode(texts)
        np.save(os.path.join(out, f"{name}.0.npy"), c)
        np.save(os.path.join(out, f"{name}.1.npy"), t)
    np.save(os.path.join(out, "words.gold.npy"), np.array([g for _, gold in test for g in gold], dtype=np.float32))
    json.dump({"words": [t for t, _ in test], "titles": test_titles, "word_count": len(words), "title_count": len(titles)},
              open(os.path.join(out, "texts.json"), "w"), ensure_ascii=False)


def texts_same(texts, a, b):
    """Texts whose every decision agrees."""
    same, i = 0, 0
    for t in texts:
        same += bool(np.all(a[i:i + len(t)] == b[i:i + len(t)]))
        i += len(t)
    return same


def word_f1(texts, gold, pred):
    """Word-level F1: a word counts when both its ends are found (deepcut's own measure)."""
    def spans(starts):
        s = np.flatnonzero(starts)
        return set(zip(s, list(s[1:]) + [len(starts)]))
    tp = fp = fn = 0
    i = 0
    for t in texts:
        g, p = gold[i:i + len(t)].copy(), pred[i:i + len(t)].copy()
        g[0] = p[0] = 1  # a text starts a word
        gs, ps = spans(g), spans(p)
        tp += len(gs & ps)
        fp += len(ps - gs)
        fn += len(gs - ps)
        i += len(t)
    return 2 * tp / max(1, 2 * tp + fp + fn)


def table(out):
    texts = json.load(open(os.path.join(out, "texts.json"), encoding="utf-8"))
    gold = np.load(os.path.join(out, "words.gold.npy")) > 0.5
    print("| text | precision | character accuracy | word F1 | decisions agreeing with fp32 | texts segmented as fp32 | characters |")
    print("|---|---|---|---|---|---|---|")
    for name in ["words", "titles"]:
        ref = np.load(os.path.join(out, f"{name}.fp32.npy")).ravel() > 0.5
        for prec in ["fp32", "bf16", "int8"]:
            y = np.load(os.path.join(out, f"{name}.{prec}.npy")).ravel() > 0.5
            acc = f"{100 * np.mean(y == gold):.2f}%" if name == "words" else "-"
            f1 = f"{100 * word_f1(texts[name], gold, y):.2f}%" if name == "words" else "-"
            agree = np.mean(y == ref)
            differ = int(np.sum(y != ref))
            same = texts_same(texts[name], y, ref)
            label = "TNC words by frequency" if name == "words" else "Thai Wikipedia titles"
            print(f"| {label} | {prec} | {acc} | {f1} | {100 * agree:.3f}% ({differ} differ) | {same} of {len(texts[name])} | {len(y)} |")


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "data":
        data(sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 300)
    elif cmd == "table":
        table(sys.argv[2])
    else:
        sys.exit(f"unknown command {cmd}")
