#!/usr/bin/python3
"""Round 13 prototype (issue 12): complex read sentence by sentence, a multiple-instance model.

Not part of the build, the tests or the plugin: a measuring script for bench/RESULTS-tagging.md
(Round 13). Needs python3-numpy and python3-scipy (Debian packages), which the project does not
depend on.

Each sentence of a letter (the title is its own instance, with its own weights) is scored
z = w . x + b over hashed syllable unigrams and bigrams, lower-cased NFC and folded (no
diacritics, đ -> d), a word holding a digit read as "#". The letter's score pools its sentences,
by default a mean-normalised log-sum-exp, S = (1/r) log(mean_i exp(r z_i)) (r = 3: between the mean
and the max), and P(complex) = sigmoid(S + c) is fitted to the letter's complex label only
(logistic loss, L2, L-BFGS). With --pool sum over a single instance per letter (--bag) the same
code is an ordinary whole-letter logistic model: the control for "a second n-gram model" without
the multiple-instance reading.

Protocol (as the tool's cv): leave-one-batch-out over the given batches, O1 excluded from complex
training and scoring; the out-of-fold scores are stacked with the tool's out-of-fold complex
log-odds (a `danvan-letters cv --dump` file) by a logistic model fitted per held-out batch on the
other batches, its threshold the pooled min(P, R) on those batches (the tool's "balanced"), and
group => complex as the tool decides (the dump's group flag).

  tools/danvan-letters/mil_prototype.py --dump row1.dump --out /tmp/mil \
      tests/corpus/letters/dev/*.jsonl          # MIL, then the bag control, then the stacks
"""
import argparse, glob, itertools, json, os, re, sys, time, unicodedata, zlib

import numpy as np
import scipy.sparse as sp
from scipy.optimize import minimize

NB = 1 << 20
MAX_SENTENCES = 80
TOK = re.compile(r'\w+', re.U)
SPLIT = re.compile(r'[.!?;\n]+')


def fold(s):
    s = s.replace('đ', 'd').replace('Đ', 'D')
    return ''.join(c for c in unicodedata.normalize('NFD', s) if not unicodedata.combining(c))


def tokens(s):
    return ['#' if any(c.isdigit() for c in t) else t for t in TOK.findall(unicodedata.normalize('NFC', s).lower())]


def bucket(s):
    return zlib.crc32(s.encode()) % NB


def ngrams(ts):
    f = set()
    for seq, p in ((ts, 'd'), ([fold(t) for t in ts], 'f')):
        for i, t in enumerate(seq):
            f.add(bucket(p + 'u' + t))
            if i:
                f.add(bucket(p + 'b' + seq[i - 1] + ' ' + t))
    return f


def sentences(title, content):
    out = [('T', title.strip())] if title.strip() else []
    out += [('S', s.strip()) for s in SPLIT.split(content) if len(TOK.findall(s)) >= 2]
    return out[:MAX_SENTENCES] or [('S', '')]


def load(files, conditions):
    conds = {}
    if conditions and os.path.exists(conditions):
        for x in open(conditions):
            d = json.loads(x)
            conds[d['id']] = d['conditions']
    letters, rows, cols, owner = [], [], [], []
    for f in sorted(files):
        b = os.path.basename(f)[:-len('.jsonl')]
        for x in open(f):
            d = json.loads(x)
            lab = d['labels']
            li = len(letters)
            letters.append({'id': d['id'], 'batch': b, 'y': int(lab['complex']), 'group': int(lab['group']),
                            'conds': conds.get(d['id'], []), 'len': len(d.get('content') or '')})
            for kind, s in sentences(d.get('title') or '', d.get('content') or ''):
                r = len(owner)
                owner.append(li)
                fs = ngrams(tokens(s))
                if kind == 'T':
                    fs = {bucket('T' + str(v)) for v in fs}
                fs.add(bucket('__bias_' + kind))
                rows += [r] * len(fs)
                cols += list(fs)
    X = sp.csr_matrix((np.ones(len(rows), np.float64), (rows, cols)), shape=(len(owner), NB))
    X.sum_duplicates()
    X.data[:] = 1
    return letters, X, np.array(owner)


def windows(X, owner):
    """Instances of two consecutive sentences (a one-sentence letter keeps its one)."""
    start = np.r_[0, np.nonzero(np.diff(owner))[0] + 1, len(owner)]
    r, c, own = [], [], []
    for li in range(len(start) - 1):
        a, b = start[li], start[li + 1]
        pairs = [(a,)] if b - a == 1 else [(i, i + 1) for i in range(a, b - 1)]
        for p in pairs:
            r += [len(own)] * len(p)
            c += list(p)
            own.append(li)
    W = sp.csr_matrix((np.ones(len(r)), (r, c)), shape=(len(own), len(owner)))
    XW = (W @ X).tocsr()
    XW.data[:] = 1
    return XW, np.array(own)


def sig(z):
    return 0.5 * (1 + np.tanh(0.5 * z))


class Mil:
    """Sentence scores pooled per letter; rows of X grouped by letter (owner ascending)."""

    def __init__(self, X, owner, pool, r, l2):
        self.X, self.pool, self.r, self.l2 = X, pool, r, l2
        n = len(set(owner.tolist()))
        self.start = np.r_[0, np.nonzero(np.diff(owner))[0] + 1, len(owner)]
        assert len(self.start) == n + 1

    def _rows(self, idx):
        n = self.start[idx + 1] - self.start[idx]
        return np.concatenate([np.arange(self.start[i], self.start[i + 1]) for i in idx]), n

    def _pool(self, z, n):
        st = np.r_[0, np.cumsum(n)[:-1]]
        if self.pool == 'sum':
            return np.add.reduceat(z, st), lambda g: np.repeat(g, n)
        if self.pool == 'mean':
            return np.add.reduceat(z, st) / n, lambda g: np.repeat(g / n, n)
        m = np.maximum.reduceat(z, st)
        if self.pool == 'max':
            hit = (z == np.repeat(m, n)).astype(np.float64)
            w = hit / np.repeat(np.add.reduceat(hit, st), n)
            return m, lambda g: np.repeat(g, n) * w
        e = np.exp(self.r * (z - np.repeat(m, n)))
        s = np.add.reduceat(e, st)
        S = m + np.log(s) / self.r - (np.log(n) / self.r if self.pool == 'lsem' else 0)
        w = e / np.repeat(s, n)
        return S, lambda g: np.repeat(g, n) * w

    def fit(self, idx, y):
        rows, n = self._rows(idx)
        Xs = self.X[rows]
        cols = np.unique(Xs.indices)
        Xs = Xs[:, cols]
        yy, d = y[idx], len(cols)

        def f(th):
            w, c = th[:d], th[d]
            S, back = self._pool(Xs @ w, n)
            t = S + c
            g = sig(t) - yy
            return (np.sum(np.logaddexp(0, t) - yy * t) + 0.5 * self.l2 * w @ w,
                    np.r_[Xs.T @ back(g) + self.l2 * w, g.sum()])
        th = minimize(f, np.zeros(d + 1), jac=True, method='L-BFGS-B', options={'maxiter': 300}).x
        self.w = np.zeros(self.X.shape[1])
        self.w[cols] = th[:d]
        self.c = th[d]
        return self

    def score(self, idx):
        rows, n = self._rows(idx)
        return self._pool(self.X[rows] @ self.w, n)[0] + self.c


def auc(s, t):
    o = np.argsort(s, kind='mergesort')
    r = np.empty(len(s))
    r[o] = np.arange(1, len(s) + 1)
    n1 = t.sum()
    return (r[t == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * (len(t) - n1))


def minpr_curve(s, t):
    o = np.argsort(-s, kind='mergesort')
    c = np.cumsum(t[o])
    return o, np.minimum(c / np.arange(1, len(s) + 1), c / t.sum())


def oracle(s, t):
    return np.max(minpr_curve(s, t)[1])


def balanced_threshold(s, t):
    o, m = minpr_curve(s, t)
    i = int(np.argmax(m))
    return (s[o[i]] + s[o[i + 1]]) / 2 if i + 1 < len(s) else s[o[i]] - 1e-9


def prf(d, t):
    tp, fp, fn = np.sum(d & (t == 1)), np.sum(d & (t == 0)), np.sum(~d & (t == 1))
    return tp / max(tp + fp, 1), tp / max(tp + fn, 1), tp, fp, fn


def stackfit(F, t):
    def f(th):
        s = F @ th[:-1] + th[-1]
        g = sig(s) - t
        return np.sum(np.logaddexp(0, s) - t * s) + 0.01 * th[:-1] @ th[:-1], np.r_[F.T @ g + 0.02 * th[:-1], g.sum()]
    return minimize(f, np.zeros(F.shape[1] + 1), jac=True, method='L-BFGS-B').x


def lobo(model, batch, y, batches, exclude):
    oof = np.full(len(batch), np.nan)
    for b in batches:
        tr = np.nonzero((batch != b) & ~np.isin(batch, exclude))[0]
        te = np.nonzero(batch == b)[0]
        oof[te] = model.fit(tr, y).score(te)
    return oof


def report(name, s, d, sc, batch, y, letters, out):
    t = y[sc].astype(int)
    P, R, tp, fp, fn = prf(d[sc], t)
    print('%-28s P %.3f R %.3f min %.3f (tp %d fp %d fn %d) AUC %.3f oracle %.3f'
          % (name, P, R, min(P, R), tp, fp, fn, auc(s[sc], t), oracle(s[sc], t)), file=out)
    per = []
    for b in sorted(set(batch[sc])):
        m = sc & (batch == b)
        p, r = prf(d[m], y[m].astype(int))[:2]
        per.append((min(p, r), b))
    print('    per batch: mean min %.3f, worst %.3f (%s), >= 0.85 %d of %d'
          % (np.mean([v for v, _ in per]), min(per)[0], min(per)[1], sum(v >= 0.85 for v, _ in per), len(per)), file=out)
    L = np.array([l['len'] for l in letters])
    for lab, m in (('short < 300', L < 300), ('300-999', (L >= 300) & (L < 1000)), ('long >= 1000', L >= 1000)):
        m = m & sc
        p, r = prf(d[m], y[m].astype(int))[:2]
        print('    %-13s n %4d P %.3f R %.3f' % (lab, m.sum(), p, r), file=out)
    grp = np.array([l['group'] for l in letters]).astype(bool)
    cells = []
    for c in ('many', 'contents', 'places', 'agencies', 'foreign'):
        m = sc & ~grp & np.array([c in l['conds'] for l in letters])
        if m.any():
            cells.append('%s %.3f (%d)' % (c, d[m].mean(), m.sum()))
    print('    recall by condition, group letters aside: ' + ', '.join(cells), file=out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('files', nargs='+')
    ap.add_argument('--dump', required=True, help='danvan-letters cv --dump of the first stage')
    ap.add_argument('--conditions', default='tests/corpus/letters/complex-conditions.jsonl')
    ap.add_argument('--exclude', default='O1', help='batches left out of complex training and scoring')
    ap.add_argument('--pool', default='lsem', choices=['lsem', 'lse', 'max', 'mean', 'sum'])
    ap.add_argument('--r', type=float, default=3.0)
    ap.add_argument('--l2', type=float, default=1.0)
    ap.add_argument('--windows', action='store_true', help='instances of two consecutive sentences')
    ap.add_argument('--no-bag', action='store_true', help='skip the whole-letter control')
    ap.add_argument('--batches', default='', help='score only these batches (comma list; training still on all others)')
    ap.add_argument('--out', default='.', help='directory for the out-of-fold scores (mil.npy, bag.npy)')
    a = ap.parse_args()
    t0 = time.time()
    letters, X, owner = load(a.files, a.conditions)
    batch = np.array([l['batch'] for l in letters])
    y = np.array([l['y'] for l in letters], np.float64)
    exclude = [b for b in a.exclude.split(',') if b]
    dump = {}
    for x in open(a.dump):
        d = json.loads(x)
        dump[d['id']] = d
    p1 = np.clip([dump[l['id']]['p'][4] for l in letters], 1e-9, 1 - 1e-9)
    z1 = np.log(p1 / (1 - p1))
    flag1 = np.array([dump[l['id']]['flags'][0] for l in letters], bool)
    group1 = np.array([dump[l['id']]['flags'][1] for l in letters], bool)
    batches = sorted(set(batch) - set(exclude))
    if a.batches:
        batches = [b for b in batches if b in a.batches.split(',')]
    print('%d letters, %d sentences, %d batches scored (%s left out)' % (len(letters), X.shape[0], len(batches), a.exclude), flush=True)
    scores = {'first stage (dump)': z1}
    XM, OM = windows(X, owner) if a.windows else (X, owner)
    mil = lobo(Mil(XM, OM, a.pool, a.r, a.l2), batch, y, batches, exclude)
    np.save(os.path.join(a.out, 'mil.npy'), mil)
    scores['MIL %s r=%g l2=%g%s' % (a.pool, a.r, a.l2, ' windows' if a.windows else '')] = mil
    print('MIL: %.0f s' % (time.time() - t0), flush=True)
    if not a.no_bag:
        A = sp.csr_matrix((np.ones(len(owner)), (owner, np.arange(len(owner)))), shape=(len(letters), len(owner)))
        XB = (A @ X).tocsr()
        XB.data[:] = 1
        bag = lobo(Mil(XB, np.arange(len(letters)), 'sum', a.r, a.l2), batch, y, batches, exclude)
        np.save(os.path.join(a.out, 'bag.npy'), bag)
        scores['bag (whole letter) l2=%g' % a.l2] = bag
        print('bag: %.0f s' % (time.time() - t0), flush=True)
    sc = np.isin(batch, batches)
    keys = list(scores)
    report('first stage (the tool)', z1, flag1, sc, batch, y, letters, sys.stdout)
    for k in keys[1:]:
        print('%-28s AUC %.3f oracle %.3f' % (k, auc(scores[k][sc], y[sc]), oracle(scores[k][sc], y[sc])))
    for r in range(2, len(keys) + 1):
        for combo in itertools.combinations(keys, r):
            if keys[0] not in combo:
                continue
            F = np.c_[tuple(scores[k] for k in combo)]
            s, d = np.full(len(y), np.nan), np.zeros(len(y), bool)
            for b in batches:
                tr, te = sc & (batch != b), batch == b
                th = stackfit(F[tr], y[tr])
                T = balanced_threshold(F[tr] @ th[:-1] + th[-1], y[tr])
                s[te] = F[te] @ th[:-1] + th[-1]
                d[te] = (s[te] >= T) | group1[te]
            report(' + '.join(['stage 1'] + [k.split(' ')[0] for k in combo[1:]]), s, d, sc, batch, y, letters, sys.stdout)
    sys.stdout.flush()


if __name__ == '__main__':
    main()
