"""Writes tests/fixtures/official-labels.json: what the official Jukebox label code gives, for
tests/unit/official-labels.test.ts to hold shared/labels.ts against.

    JUKEBOX_SRC=/tmp/jukebox-src /usr/bin/python3 tools/official_labels_fixture.py [OUT]

Runs the official processors (jukebox/data/artist_genre_processor.py, text_processor.py, labels.py and
SimplePrior.get_y from prior/prior.py; a batch of rows with their own metas, as sample.py samples them) from
a checkout of openai/jukebox, imported through
tools/official_code.py. Needs Debian's python3-unidecode, python3-numpy and torch. Nothing of the
official code is copied: the fixture holds only its outputs (ids, cleaned text, label rows) and the
id-file lines of the names it looks up. Deterministic: the same checkout and unidecode give the same file.
"""
import contextlib
import io
import json
import os
import random
import sys
import types
import unicodedata

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from official_code import import_official  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(ROOT, 'tests', 'fixtures', 'official-labels.json')

# Characters whose transliteration the fixture records one by one (shared/labels.ts claims these blocks).
CHAR_RANGES = [(0x00A0, 0x0180), (0x0300, 0x0370), (0x1E00, 0x1F00), (0x2000, 0x2070), (0x20AC, 0x20AD), (0x2116, 0x2117), (0x2122, 0x2123), (0x2212, 0x2213)]

TRICKY_ARTISTS = [
    'Alan Jackson', 'Céline Dion', 'AC/DC', "Guns N' Roses", '  The Beatles  ', 'Beyoncé', 'Sigur Rós', 'Motörhead',
    'Mötley Crüe', 'Björk', 'P!nk', 'will.i.am', 'Ke$ha', '50 Cent', "The B-52's", 'Earth, Wind & Fire',
    'Joe Bonamassa', 'Frank Sinatra', 'Ella Fitzgerald', 'FRANK  SINATRA', 'frank_sinatra', '__frank__sinatra__',
    'The Rolling Stones', 'Andrés Schiff', 'İbrahim Tatlıses', 'Édith Piaf', 'Ólafur Arnalds', 'Røyksopp',
    'Sinéad O\'Connor', 'Ludwig van Beethoven', 'Wolfgang Amadeus Mozart', 'Antonín Dvořák', 'Frédéric Chopin',
    'ΟΔΥΣΣΕΑΣ', 'Борис Гребенщиков', '坂本龍一', 'Ｆｕｌｌｗｉｄｔｈ', 'unknown', 'Unknown', 'various', '', '   ', '???',
    'Pop Unknown', 'Beat Farmers', 'beat farmers ', 'constructor', '__proto__', 'toString',
]

TRICKY_GENRES = [
    'Blues Rock', 'Country', 'Classic Pop', 'Jazz', 'Pop', 'Hip-Hop', 'Hip Hop', 'R&B', 'Drum & Bass',
    "Rock 'n' Roll", 'K-Pop', 'Música Popular', 'Country_Rock ', 'country rock', 'Classical', 'ELECTRONIC',
    'Singer-Songwriter', 'Acid Rock', 'acid rock', 'Post-Punk', '', '!!!', 'unknown', 'Trip Hop', 'Nu Metal',
    'Christian Metal', 'Pop Rock', 'Reggae', 'Soul', 'Funk / Soul', 'constructor', 'Psychédélique',
]

WORDS = ('love night light heart fire rain road home dream sky river gold stone time wind song dance '
         'shadow morning ocean silver tomorrow yesterday forever whisper thunder desert city train').split()

LYRICS = [
    'Hello', 'Héllo, wörld!', "it\u2019s \u201cfine\u201d \u2014 ok\u2026", 'a\\b\\\\c', 'tab\there \U0001F3B5 \u00df',
    'Line one\nLine two\r\nLine three\rfour', 'Numbers: 1, 2, 3... 1999! 24/7 #1 @home 50% $5 & more',
    "Don't stop (believin') [chorus] - hold on + on", 'Ça va? Où est la fête? À bientôt, garçon!',
    '¿Dónde está el baño? ¡Olé! Mañana, señor, niño', 'Straße, Grüße, Mädchen, Fußball, GROẞ',
    'Smørrebrød på Ærø, Åland; Œuvre, cœur', 'Łódź, żółć, gęślą jaźń, Ðakovo, đak', 'Þórr og Óðinn, það er',
    'Tiếng Việt có dấu: người, đường, phở', 'İstanbul’da ılık şarkı, ğüç', 'Příliš žluťoučký kůň úpěl ďábelské ódy',
    'Non\u00a0breaking\u2009thin\u200bzero\u2003em', '«Guillemets» ‹single› „low“ ‚low‘ ′prime″',
    'dash‐hyphen‑nb‒figure–en—em―bar − minus', '½ cup, ¼ hour, ¾ done; 2² 10³; №5, ©2020 ®, ™, €10, £5, ¥3, °C',
    'ﬁne ﬂowers, Ｆｕｌｌ　ｗｉｄｔｈ！', 'e\u0301 decomposed, n\u0303 tilde, a\u0308a',
    'Ὀδυσσεύς and Москва and 東京 and عربى', '', '   \n\t  ', '\U0001F600\U0001F3B8 emoji only \u2764\ufe0f',
    'line\u2028separator\u2029paragraph', 'tilde~ caret^ under_score back`tick pipe| braces{} lt<gt> star* slash/',
]
# Texts with non-Latin script: unidecode transliterates those characters, shared/labels.ts drops them.
NON_LATIN = {'Ὀδυσσεύς and Москва and 東京 and عربى'}


def long_lyrics(rng: random.Random, n_chars: int) -> str:
    lines = []
    total = 0
    while total < n_chars:
        line = ' '.join(rng.choice(WORDS) for _ in range(rng.randint(3, 8))).capitalize()
        line += rng.choice(['', ',', '.', '!', '?', '...'])
        lines.append(line)
        total += len(line) + 1
    return '\n'.join(lines)


@contextlib.contextmanager
def quiet():
    """The official processors print a line per lookup (and per unknown name): keep stdout clean."""
    with contextlib.redirect_stdout(io.StringIO()):
        yield


def read_id_lines(path):
    with open(path, encoding='utf-8') as f:
        return f.read().split('\n')


def main(out_path):
    J = import_official()
    import importlib
    agp = importlib.import_module('jukebox.data.artist_genre_processor')
    tp = importlib.import_module('jukebox.data.text_processor')
    labels_mod = importlib.import_module('jukebox.data.labels')
    import unidecode

    with quiet():
        ag = {'v2': agp.ArtistGenreProcessor(v3=False), 'v3': agp.ArtistGenreProcessor(v3=True)}
    text = {'v2': tp.TextProcessor(v3=False), 'v3': tp.TextProcessor(v3=True)}
    rng = random.Random(20240607)

    # Names sampled from the id files, written the way people write them.
    def human(key):
        words = key.replace('_', ' ').split(' ')
        style = rng.randrange(3)
        if style == 0:
            return ' '.join(w.capitalize() for w in words)
        return ' '.join(words).upper() if style == 1 else ' '.join(words)

    v2_artists = [k for k in ag['v2'].artist_ids if k not in ('', 'unknown', 'various')]
    v3_artists = [k for k in ag['v3'].artist_ids if k != 'unknown']
    v2_genres = [k for k in ag['v2'].genre_ids if k != 'unknown']
    v3_genres = [k for k in ag['v3'].genre_ids if k != 'unknown']
    artist_names = TRICKY_ARTISTS + [human(k) for k in rng.sample(v2_artists, 75)] + [human(k) for k in rng.sample(v3_artists, 75)]
    genre_names = TRICKY_GENRES + [human(k) for k in rng.sample(v2_genres, 30)] + [human(k) for k in rng.sample(v3_genres, 40)]

    artists, genres = [], []
    used = {'v2': {'artists': set(), 'genres': set()}, 'v3': {'artists': set(), 'genres': set()}}
    for name in artist_names:
        row = {'name': name}
        for v, p in ag.items():
            key = name.lower() if v == 'v3' else agp.norm(name)
            used[v]['artists'].add(key)
            with quiet():
                row[v] = p.get_artist_id(name)
        artists.append(row)
    for name in genre_names:
        row = {'name': name}
        for v, p in ag.items():
            words = [name.lower()] if v == 'v3' else agp.norm(name).split('_')
            used[v]['genres'].update(words)
            with quiet():
                row[v] = p.get_genre_ids(name)
        genres.append(row)

    # The id maps for the names looked up, as ArtistGenreProcessor loads them, and the id-file lines they came from.
    id_maps, id_lines = {}, {}
    for v, p in ag.items():
        id_maps[v] = {
            'artists': {k: i for k, i in p.artist_ids.items() if k in used[v]['artists']},
            'genres': {k: i for k, i in p.genre_ids.items() if k in used[v]['genres']},
        }
        id_lines[v] = {}
        for kind, path in (('artists', p.artist_id_file), ('genres', p.genre_id_file)):
            lines = [ln for ln in read_id_lines(path) if ln.strip() and ln.strip().split(';')[0].lower() in used[v][kind]]
            id_lines[v][kind] = lines
        id_maps[v]['artistCount'] = len(set(p.artist_ids.values()))
        id_maps[v]['genreCount'] = len(set(p.genre_ids.values()))

    lyric_rows = []
    for s in LYRICS:
        row = {'text': s, 'nonLatin': s in NON_LATIN}
        for v, t in text.items():
            clean = t.clean(s)
            row[v] = {'clean': clean, 'ids': t.tokenise(clean)}
        lyric_rows.append(row)

    chars = {}
    for a, b in CHAR_RANGES:
        for cp in range(a, b):
            c = chr(cp)
            if unicodedata.category(c) == 'Cn':
                continue
            chars[c] = {'ascii': unidecode.unidecode(c), 'v2': text['v2'].clean(c)}

    # Label rows: Labeller.get_label (offset as given, Python ints) and the row SimplePrior.get_y builds for the
    # window starting at token `start` while sampling (0-dim int64 tensors: the lyric centre is float32).
    configs = [
        # name, labels version, max_genre_words, n_tokens, n_ctx, raw_to_tokens, sr
        ('5b_lyrics top', 'v2', 5, 512, 8192, 128),
        ('1b_lyrics top', 'v3', 1, 384, 6144, 128),
        ('5b top', 'v2', 5, 0, 8192, 128),
        ('upsampler level 1', 'v2', 5, 0, 8192, 32),
        ('upsampler level 0', 'v2', 5, 0, 8192, 8),
    ]
    texts = {
        'long': long_lyrics(rng, 4000),
        'medium': long_lyrics(rng, 1200),
        'short': 'Short and sweet,\nlike a song.',
        'accented': 'Ça c’est la vie — “déjà vu”…\n' * 40,
    }
    metas = [
        ('Alan Jackson', 'Country', 'long'), ('Joe Bonamassa', 'Blues Rock', 'medium'), ('Céline Dion', 'Pop', 'short'),
        ('Frank Sinatra', 'Classic Pop', 'accented'), ('nobody at all', 'Nonexistent Genre', 'long'),
    ]
    full_tokens = {v: {k: t.tokenise(t.clean(s)) for k, s in texts.items()} for v, t in text.items()}
    windows = []
    for name, v, max_genre_words, n_tokens, n_ctx, raw_to_tokens in configs:
        sample_length = n_ctx * raw_to_tokens
        with quiet():
            labeller = labels_mod.Labeller(max_genre_words, n_tokens, sample_length, v3=(v == 'v3'))
        for seconds in (60, 187, 240):
            total_length = seconds * 44100
            total_tokens = total_length // raw_to_tokens
            last = max(total_tokens - n_ctx, 0)
            starts = sorted({0, 1024, last // 2 // 128 * 128, last // 128 * 128, last})
            # Without lyrics only the head of the row varies: two songs are enough there.
            for artist, genre, key in (metas if n_tokens else metas[:2]):
                if v == 'v3' and genre == 'Blues Rock':
                    genre = 'blues rock'
                with quiet():
                    labels = labeller.get_batch_labels([dict(artist=artist, genre=genre, lyrics=texts[key],
                                                             total_length=total_length, offset=0)], 'cpu')
                fake_prior = types.SimpleNamespace(labeller=labeller, sample_length=sample_length, raw_to_tokens=raw_to_tokens)
                for start in starts:
                    if start * raw_to_tokens >= total_length:
                        continue
                    with quiet():
                        y_sampling = J.SimplePrior.get_y(fake_prior, labels, start)
                        y_label = labeller.get_label(artist, genre, texts[key], total_length, start * raw_to_tokens)['y']
                    full = labels['info'][0]['full_tokens']
                    windows.append({
                        'model': name, 'version': v, 'maxGenreWords': max_genre_words, 'lyricTokens': n_tokens,
                        'nCtx': n_ctx, 'hopLength': raw_to_tokens, 'artist': artist, 'genre': genre, 'lyrics': key,
                        'totalLength': total_length, 'start': start,
                        'getLabel': encode_row(y_label.tolist(), full, n_tokens),
                        'getY': encode_row(y_sampling[0].tolist(), full, n_tokens),
                    })

    # Several rows sampled together, each with its own metas, as sample.py does: every prior's Labeller builds one
    # label row per meta (get_batch_labels), and SimplePrior.get_y sets each row's offset and its own lyric window.
    # The 1b_lyrics layout: a v3 top prior (lyrics) over v2 upsamplers, so each level looks the names up in its set.
    batch_metas = [('Alan Jackson', 'Country', 'long'), ('Joe Bonamassa', 'Blues Rock', 'medium'),
                   ('Céline Dion', 'Pop', 'short'), ('Frank Sinatra', 'Classic Pop', 'accented')]
    batch_levels = [  # level 0 first: name, labels version, max_genre_words, n_tokens, n_ctx, raw_to_tokens
        ('upsampler level 0', 'v2', 5, 0, 8192, 8),
        ('upsampler level 1', 'v2', 5, 0, 8192, 32),
        ('1b_lyrics top', 'v3', 1, 384, 6144, 128),
    ]
    batch_total = 187 * 44100
    batch = {'totalLength': batch_total, 'metas': [{'artist': a, 'genre': g, 'lyrics': k} for a, g, k in batch_metas],
             'levels': []}
    for name, v, max_genre_words, n_tokens, n_ctx, raw_to_tokens in batch_levels:
        sample_length = n_ctx * raw_to_tokens
        with quiet():
            labeller = labels_mod.Labeller(max_genre_words, n_tokens, sample_length, v3=(v == 'v3'))
            labels = labeller.get_batch_labels([dict(artist=a, genre=g, lyrics=texts[k], total_length=batch_total, offset=0)
                                                for a, g, k in batch_metas], 'cpu')
        fake_prior = types.SimpleNamespace(labeller=labeller, sample_length=sample_length, raw_to_tokens=raw_to_tokens)
        last = max(batch_total // raw_to_tokens - n_ctx, 0)
        level_windows = []
        for start in sorted({0, last // 2 // 128 * 128, last}):
            with quiet():
                y = J.SimplePrior.get_y(fake_prior, labels, start)
            assert y.shape[0] == len(batch_metas)
            level_windows.append({'start': start, 'rows': [encode_row(y[i].tolist(), labels['info'][i]['full_tokens'], n_tokens)
                                                           for i in range(len(batch_metas))]})
        batch['levels'].append({'model': name, 'version': v, 'maxGenreWords': max_genre_words, 'lyricTokens': n_tokens,
                                'nCtx': n_ctx, 'hopLength': raw_to_tokens, 'windows': level_windows})

    # Lyric centres where float32 (sampling) and float64 (get_label) disagree: found by search, recorded as
    # (len, n_tokens, total_length, offset, duration, float64 window start, float32 window start).
    centre_cases = []
    search = random.Random(7)
    while len(centre_cases) < 12:
        n_tokens = search.choice([384, 512])
        length = search.randint(n_tokens, 6000)
        total = search.randint(60, 600) * 44100
        duration = search.choice([6144, 8192]) * 128
        offset = search.randrange(0, total // 128) * 128
        full = list(range(1, length + 1))
        a, _ = labels_mod.get_relevant_lyric_tokens(full, n_tokens, total, offset, duration)
        b, _ = labels_mod.get_relevant_lyric_tokens(full, n_tokens, torch.tensor(total), torch.tensor(offset), torch.tensor(duration))
        if a != b:
            centre_cases.append({'length': length, 'lyricTokens': n_tokens, 'totalLength': total, 'offset': offset,
                                 'sampleLength': duration, 'float64First': a[0] - 1, 'float32First': b[0] - 1})

    fixture = {
        '_comment': 'Generated by tools/official_labels_fixture.py from the official openai/jukebox label code. Do not edit.',
        'unidecodeVersion': getattr(unidecode, '__version__', None) or _debian_version('python3-unidecode'),
        'vocab': {v: ''.join(t.tokens[i] for i in range(1, t.n_vocab)) for v, t in text.items()},
        'idMaps': id_maps,
        'idLines': id_lines,
        'artists': artists,
        'genres': genres,
        'lyrics': lyric_rows,
        'chars': chars,
        'lyricTexts': texts,
        'lyricTextTokens': full_tokens,
        'windows': windows,
        'batch': batch,
        'centreCases': centre_cases,
    }
    os.makedirs(os.path.dirname(out_path), exist_ok=True)
    with open(out_path, 'w', encoding='utf-8') as f:
        f.write(dump(fixture))
    print(f'wrote {out_path}: {len(artists)} artists, {len(genres)} genres, {len(lyric_rows)} lyrics, '
          f'{len(chars)} characters, {len(windows)} label rows, {len(batch_metas)} rows sampled together, '
          f'{len(centre_cases)} float32 centre cases')


def encode_row(y, full, n_tokens):
    """A label row as {head, lyricStart}: head = the first 4 + G entries; the lyric tokens are
    full[lyricStart : lyricStart + n_tokens], or (lyricStart null) all of full left-padded with 0. Lossless: checked."""
    y = [int(x) for x in y]
    head, tokens = (y[:-n_tokens], y[-n_tokens:]) if n_tokens else (y, [])
    if n_tokens == 0 or len(full) < n_tokens:
        start = None
    else:
        start = next(s for s in range(len(full) - n_tokens + 1) if full[s:s + n_tokens] == tokens)
    assert decode_row(head, start, full, n_tokens) == y
    return {'head': head, 'lyricStart': start}


def decode_row(head, start, full, n_tokens):
    if n_tokens == 0:
        return head
    if start is None:
        return head + [0] * (n_tokens - len(full)) + full
    return head + full[start:start + n_tokens]


def _debian_version(package):
    try:
        with open('/var/lib/dpkg/status', encoding='utf-8') as f:
            block = f.read().split(f'Package: {package}\n', 1)[1]
        return next(ln.split(': ', 1)[1] for ln in block.split('\n') if ln.startswith('Version: '))
    except (OSError, IndexError, StopIteration):
        return None


def dump(value, indent=0):
    """JSON with one line per list element / object member at the top two levels (reviewable diffs)."""
    pad = ' ' * indent
    if indent < 4 and isinstance(value, dict) and value:
        items = [f'{pad} {json.dumps(k, ensure_ascii=True)}: {dump(v, indent + 2)}' for k, v in value.items()]
        return '{\n' + ',\n'.join(items) + f'\n{pad}}}' + ('\n' if indent == 0 else '')
    if indent < 4 and isinstance(value, list) and value and isinstance(value[0], (dict, list, str)):
        items = [f'{pad} {json.dumps(v, ensure_ascii=True)}' for v in value]
        return '[\n' + ',\n'.join(items) + f'\n{pad}]'
    return json.dumps(value, ensure_ascii=True)


if __name__ == '__main__':
    main(sys.argv[1] if len(sys.argv) > 1 else DEFAULT_OUT)
