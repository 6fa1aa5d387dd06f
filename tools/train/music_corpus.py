#!/usr/bin/env python3
"""Seeded generator of a synthetic music corpus for training a tiny Jukebox-style model.

    /usr/bin/python3 tools/train/music_corpus.py --out /tmp/music-corpus [--clips 240] [--seconds 10]
        [--seed 1] [--sr 16000] [--soundfont /usr/share/sounds/sf2/TimGM6mb.sf2] [--held-out 0.1] [--jobs 2]

Every clip is composed procedurally: an "artist" (an ensemble, i.e. an instrument set) and 1-2 genres
(tempo, progression, rhythm, drum pattern, dynamics) give a melody, chords, a bass line and drums in a
random key. It is written as a type-1 MIDI file (mido) and rendered by the fluidsynth CLI with reverb and
chorus off, fixed gain, float output at --sr; then mixed to mono, cut/padded to exactly seconds*sr
samples and normalised to RMS 0.1 (scaled down further if its peak would pass 0.99).

Writes (the data itself is not committed: write it outside the repository, e.g. /tmp/music-corpus)
    DIR/clips/NNNN.wav   16-bit PCM mono at --sr
    DIR/index.json       {"sr", "seed", "soundfont", "clips": [{"file", "artist", "genres", "lyrics",
                         "seconds", "tempo", "key", "split", "chords", "instruments"}]}
"lyrics" holds the chord symbols of the bars that start inside the clip (spelled with flats, e.g. "Bbm7":
"#" is not in the model's lyric vocabulary), each left-justified in a 5-character field, so that a position
in the text is proportional to time. The last
round(held_out * clips) clips are "held_out", the others "train". Clip i draws every random choice
from random.Random(seed * 100003 + i), so the same arguments (with the same fluidsynth and soundfont)
give byte-identical files. Needs numpy, scipy, mido and fluidsynth (apt-get install fluidsynth).
"""
import argparse
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from multiprocessing import Pool

import mido
import numpy as np
from scipy.io import wavfile

ARTISTS = ('tiny_ensemble', 'the_random_walkers', 'dr_noise', 'gaussian_quartet', 'mono_16k')
GENRES = ('rock', 'pop', 'jazz', 'blues', 'classical', 'electronic', 'folk', 'ambient')
# Genre weights per artist: every artist has several genres and every genre several artists.
GENRE_WEIGHTS = {
    'tiny_ensemble': {'pop': 3, 'jazz': 3, 'blues': 3, 'classical': 2, 'folk': 2, 'rock': 1, 'ambient': 1,
                      'electronic': 1},
    'the_random_walkers': {'rock': 6, 'blues': 4, 'pop': 3, 'folk': 1, 'jazz': 1, 'electronic': 1},
    'dr_noise': {'electronic': 6, 'pop': 3, 'ambient': 2, 'rock': 1},
    'gaussian_quartet': {'classical': 5, 'ambient': 4, 'folk': 2, 'jazz': 1, 'pop': 1},
    'mono_16k': {'ambient': 4, 'classical': 4, 'folk': 3, 'jazz': 2, 'pop': 1, 'blues': 2, 'electronic': 1},
}
SECOND_GENRE_P = 0.4
TEMPO = {'ambient': (60, 80), 'classical': (70, 100), 'folk': (90, 120), 'blues': (80, 110),
         'jazz': (100, 160), 'pop': (100, 125), 'rock': (110, 150), 'electronic': (120, 140)}
SWING = ('jazz', 'blues')
VELOCITY = {'ambient': (45, 62), 'classical': (55, 80), 'folk': (60, 85), 'jazz': (55, 85),
            'blues': (65, 95), 'pop': (70, 95), 'rock': (88, 112), 'electronic': (80, 105)}
# Melody rhythm per genre: note lengths in beats, their weights, probability of a rest.
MELODY_RHYTHM = {
    'ambient': ((2, 3, 4, 1), (3, 2, 3, 1), 0.25), 'classical': ((0.5, 1, 2, 0.25), (4, 4, 2, 1), 0.05),
    'folk': ((0.5, 1, 1.5, 2), (3, 4, 2, 1), 0.08), 'pop': ((0.5, 1, 1.5, 0.25), (5, 3, 2, 1), 0.1),
    'rock': ((0.5, 0.25, 1, 1.5), (5, 2, 3, 1), 0.1), 'electronic': ((0.25, 0.5, 1), (4, 5, 1), 0.12),
    'jazz': ((0.5, 1, 1.5), (6, 3, 1), 0.12), 'blues': ((0.5, 1, 1.5, 2), (4, 3, 2, 1), 0.15),
}
LEGATO = {'ambient': 1.0, 'classical': 0.95, 'electronic': 0.7, 'rock': 0.85}
# Progressions in Roman numerals (lower case = minor, 7 = dominant/minor 7th, M7 = major 7th).
PROGRESSIONS = {
    'pop': {'major': ['I V vi IV', 'vi IV I V', 'I vi IV V', 'I IV vi V', 'I V vi iii IV I IV V'],
            'minor': ['i bVI bIII bVII', 'i bVII bVI bVII', 'i iv bVI bVII']},
    'rock': {'major': ['I V vi IV', 'I bVII IV I', 'I IV V IV', 'I IV I V'],
             'minor': ['i bVII bVI bVII', 'i bVI bIII bVII', 'i iv bVII i', 'i i bVI bVII']},
    'blues': {'major': ['I7 I7 I7 I7 IV7 IV7 I7 I7 V7 IV7 I7 V7', 'I7 IV7 I7 I7 IV7 IV7 I7 I7 V7 IV7 I7 V7']},
    'jazz': {'major': ['ii7 V7 IM7 IM7', 'IM7 vi7 ii7 V7', 'iii7 vi7 ii7 V7', 'ii7 V7 IM7 vi7',
                       'IM7 IM7 ii7 V7 iii7 vi7 ii7 V7'],
             'minor': ['i7 iv7 V7 i7', 'i7 iv7 bVII7 bIIIM7', 'i7 bVIM7 iv7 V7']},
    'classical': {'major': ['I IV V I', 'I vi IV V', 'I ii V I', 'I vi ii V', 'I IV V I vi ii V I'],
                  'minor': ['i iv V i', 'i bVI iv V', 'i iv bVII bIII', 'i iv V i bVI iv V i']},
    'folk': {'major': ['I IV I V', 'I V IV I', 'I IV V I', 'I vi IV V', 'I I IV I I IV V I'],
             'minor': ['i bVII i v', 'i bIII bVII i', 'i iv i v', 'i bVII bVI bVII']},
    'ambient': {'major': ['IM7 IM7 IVM7 IVM7', 'I vi IV I', 'IM7 iii7 IVM7 IM7', 'I IV I IV'],
                'minor': ['i7 i7 bVIM7 bVIM7', 'i bVI bIII bVII', 'i iv i bVI']},
    'electronic': {'major': ['vi IV I V', 'I V vi IV', 'vi vi IV V'],
                   'minor': ['i bVI bIII bVII', 'i i bVI bVII', 'i bVII bVI bVII', 'i iv bVI bVII']},
}
COMP = {'ambient': 'sustain', 'classical': 'broken', 'folk': 'quarters', 'pop': 'quarters', 'rock': 'eighths',
        'electronic': 'stabs', 'jazz': 'jazz', 'blues': 'quarters'}
BASS = {'ambient': 'whole', 'classical': 'halves', 'folk': 'root_fifth', 'pop': 'pop', 'rock': 'eighths',
        'electronic': 'offbeat', 'jazz': 'walking', 'blues': 'boogie'}
DRUMS = {'rock': 'rock', 'pop': 'pop', 'electronic': 'four', 'blues': 'shuffle', 'jazz': 'jazz', 'folk': 'folk',
         'classical': 'light', 'ambient': 'light'}
EIGHTHS = tuple(range(0, 16, 2))
# GM drum note -> (steps on a 16th grid, level); kick 36, snare 38, closed hat 42, open hat 46, ride 51.
DRUM_PATTERNS = {
    'rock': {36: ((0, 8, 10), 1.0), 38: ((4, 12), 1.0), 42: (EIGHTHS, 0.6)},
    'pop': {36: ((0, 6, 8), 0.95), 38: ((4, 12), 0.9), 42: (EIGHTHS, 0.55)},
    'four': {36: ((0, 4, 8, 12), 1.0), 38: ((4, 12), 0.85), 42: ((0, 4, 8, 12), 0.5), 46: ((2, 6, 10, 14), 0.55)},
    'shuffle': {36: ((0, 8), 0.9), 38: ((4, 12), 0.85), 42: (EIGHTHS, 0.55)},
    'jazz': {51: ((0, 4, 6, 8, 12, 14), 0.6), 42: ((4, 12), 0.45), 36: ((0, 8), 0.35)},
    'folk': {36: ((0, 8), 0.8), 38: ((4, 12), 0.65), 42: ((0, 4, 8, 12), 0.5)},
    'light': {51: ((0, 4, 8, 12), 0.4), 36: ((0,), 0.4)},
}
CRASH = 49
# Flats, not sharps: '#' is not in the model's lyric vocabulary (tools/configs/tiny.json), 'b' is.
NOTE_NAMES = ('C', 'Db', 'D', 'Eb', 'E', 'F', 'Gb', 'G', 'Ab', 'A', 'Bb', 'B')
LYRIC_VOCAB = set('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.,:;!?-+\'"()[] \n')
SCALES = {'major': (0, 2, 4, 5, 7, 9, 11), 'minor': (0, 2, 3, 5, 7, 8, 10), 'blues': (0, 3, 5, 6, 7, 10)}
QUALITY = {'': (0, 4, 7), 'm': (0, 3, 7), '7': (0, 4, 7, 10), 'm7': (0, 3, 7, 10), 'M7': (0, 4, 7, 11)}
DEGREE = {'i': 0, 'ii': 2, 'iii': 4, 'iv': 5, 'v': 7, 'vi': 9, 'vii': 11}
ROMAN = re.compile(r'^(b?)([iv]+|[IV]+)(M7|7)?$')
# GM programs: name, melody/solo range, chord voicing centre, lowest bass root.
PROGRAMS = {
    0: ('acoustic_grand_piano', (60, 84), 60), 11: ('vibraphone', (60, 84), 60), 12: ('marimba', (60, 84), 57),
    27: ('electric_guitar_clean', (55, 79), 0), 29: ('overdriven_guitar', 0, 52), 30: ('distortion_guitar', 0, 52),
    32: ('acoustic_bass', 0, 33), 33: ('electric_bass_finger', 0, 33), 34: ('electric_bass_pick', 0, 33),
    38: ('synth_bass_1', 0, 33), 39: ('synth_bass_2', 0, 33), 40: ('violin', (62, 86), 0), 41: ('viola', 0, 62),
    42: ('cello', 0, 52), 43: ('contrabass', 0, 28), 73: ('flute', (67, 91), 67), 80: ('lead_square', (60, 84), 0),
    81: ('lead_sawtooth', (60, 84), 0), 88: ('pad_new_age', 0, 62), 89: ('pad_warm', 0, 62),
    90: ('pad_polysynth', 0, 62),
}
KITS = {0: 'standard_kit', 16: 'power_kit', 24: 'electronic_kit', 25: 'tr808_kit'}
TPB = 480  # MIDI ticks per beat
GAIN = '0.5'


def parse_roman(token):
    """'bVII7' -> (10, '7'): the chord root in semitones above the tonic and its quality."""
    flat, numeral, seventh = ROMAN.match(token).groups()
    minor = numeral.islower()
    quality = {'M7': 'M7', '7': 'm7' if minor else '7'}.get(seventh, 'm' if minor else '')
    return (DEGREE[numeral.lower()] - (1 if flat else 0)) % 12, quality


def with_seventh(chord):
    """Jazz colour: triads become 7th chords (major on V/bVII -> dominant 7, else major 7)."""
    offset, quality = chord
    if quality == '':
        return offset, '7' if offset in (7, 10) else 'M7'
    return offset, 'm7' if quality == 'm' else quality


def chord_symbol(chord, key):
    """Chord name such as 'Dbm7' (at most 4 characters: root, 'b', quality)."""
    return NOTE_NAMES[(key + chord[0]) % 12] + chord[1]


def chord_pcs(chord, key):
    """Pitch classes of a chord in a key."""
    return {(key + chord[0] + iv) % 12 for iv in QUALITY[chord[1]]}


def pick_genres(rng, artist):
    """One genre from the artist's weighted list, and with SECOND_GENRE_P a different second one."""
    table = GENRE_WEIGHTS[artist]
    genres = [rng.choices(list(table), list(table.values()))[0]]
    if rng.random() < SECOND_GENRE_P:
        rest = [g for g in table if g != genres[0]]
        genres.append(rng.choices(rest, [table[g] for g in rest])[0])
    return genres


def pick_instruments(rng, artist):
    """GM programs per part ('melody', 'chords', 'bass' or 'arp') and the drum kit (None: no drums)."""
    if artist == 'tiny_ensemble':
        return {'melody': 0, 'chords': 0, 'bass': 32}, 0
    if artist == 'the_random_walkers':
        return {'melody': 27, 'chords': rng.choice([29, 30]), 'bass': rng.choice([33, 34])}, 16
    if artist == 'dr_noise':
        parts = {'melody': rng.choice([80, 81]), 'chords': rng.choice([88, 89, 90]), 'bass': rng.choice([38, 39])}
        return parts, rng.choice([24, 25])
    if artist == 'gaussian_quartet':
        chords = rng.choice([41, 42])
        return {'melody': 40, 'chords': chords, 'bass': 43 if chords == 42 else rng.choice([42, 43])}, None
    solo = rng.choice([12, 11, 73])
    return {'melody': solo, 'arp': solo}, None


def voicing(chord, key, centre, power=False):
    """Close voicing (or a root-fifth-octave power chord) of the inversion whose mean is nearest centre."""
    root = (key + chord[0]) % 12
    ivs = (0, 7, 12) if power else QUALITY[chord[1]]
    base = centre - 12 + (root - centre + 12) % 12
    candidates = []
    for b in (base - 12, base, base + 12):
        for inv in range(1 if power else len(ivs)):
            candidates.append(sorted(b + iv + (12 if k < inv else 0) for k, iv in enumerate(ivs)))
    return min(candidates, key=lambda notes: abs(sum(notes) / len(notes) - centre))


def velocity(rng, level, jitter=6):
    """A MIDI velocity around level with a little random variation."""
    return max(1, min(127, int(round(level)) + (rng.randint(-jitter, jitter) if jitter else 0)))


def phrase_rhythm(rng, beats, genre):
    """[(onset, length, is_rest)] filling a phrase of `beats`, ending on a held note of 1-4 beats."""
    lengths, weights, rest_p = MELODY_RHYTHM[genre]
    tail = 4 if genre == 'ambient' else rng.choice([1, 2])
    out, t = [], 0.0
    while t < beats - tail - 1e-9:
        d = min(rng.choices(lengths, weights)[0], beats - tail - t)
        out.append((t, d, t > 0 and rng.random() < rest_p))
        t += d
    out.append((t, beats - t, False))
    return out


def melody_notes(rng, c, lo, hi, level):
    """Scale melody in [lo, hi]: mostly steps, some leaps, chord tones on strong beats and phrase ends."""
    pool = [p for p in range(lo, hi + 1) if (p - c['key']) % 12 in c['scale']]
    idx, motif, notes = len(pool) // 2, None, []
    legato = LEGATO.get(c['rhythm_genre'], 0.9)
    for start in range(0, c['bars'], c['phrase_bars']):
        rhythm = motif if motif and rng.random() < 0.5 else phrase_rhythm(rng, 4 * c['phrase_bars'], c['rhythm_genre'])
        motif = motif or rhythm
        for j, (t, d, rest) in enumerate(rhythm):
            beat = 4 * start + t
            if beat >= 4 * c['bars']:
                break
            move = rng.choices((0, 1, -1, 2, -2, 3, -3, 4, -4), (1, 4, 4, 1.5, 1.5, 0.6, 0.6, 0.4, 0.4))[0]
            idx = min(max(idx + (move if 0 <= idx + move < len(pool) else -move), 0), len(pool) - 1)
            if rest:
                continue
            pitch = pool[idx]
            if t % 2 == 0 or j == len(rhythm) - 1:
                tones = chord_pcs(c['chords'][int(beat // 4)], c['key'])
                pitch = min((p for p in range(lo, hi + 1) if p % 12 in tones), key=lambda p: (abs(p - pitch), p))
                idx = min(range(len(pool)), key=lambda k: abs(pool[k] - pitch))
            notes.append((beat, beat + d * (0.8 if j == len(rhythm) - 1 else legato), pitch, velocity(rng, level)))
    return notes


def comp_bar(rng, kind):
    """[(onset, length)] of the chord hits in one bar."""
    if kind == 'sustain':
        return [(0, 4)]
    if kind == 'halves':
        return [(0, 2), (2, 2)]
    if kind == 'quarters':
        return [(b, 0.9) for b in range(4)]
    if kind == 'eighths':
        return [(b / 2, 0.45) for b in range(8)]
    if kind == 'stabs':
        return [(b + 0.5, 0.3) for b in range(4)]
    return rng.choice([[(0, 1), (1.5, 1)], [(0.5, 1), (2.5, 1)], [(1, 0.5), (2.5, 1.2)], [(0, 2), (3.5, 0.5)]])


def chord_notes(rng, c, program, kind, level, power=False):
    """Block chords (or, for kind 'broken'/'arp', arpeggios) following the progression."""
    notes, centre = [], PROGRAMS[program][2]
    step = {'ambient': 1, 'electronic': 0.25}.get(c['main'], 0.5)
    shape = rng.choice([(0, 1, 2, 3), (0, 1, 2, 3, 2, 1), (0, 2, 1, 2)])
    for bar, chord in enumerate(c['chords']):
        voice = voicing(chord, c['key'], centre, power)
        if kind in ('broken', 'arp'):
            tones = voice + [voice[0] + 12]
            for k in range(int(4 / step)):
                t = 4 * bar + k * step
                notes.append((t, t + step * 0.95, tones[shape[k % len(shape)] % len(tones)], velocity(rng, level)))
            continue
        for t, d in comp_bar(rng, kind):
            v = velocity(rng, level)
            notes.extend((4 * bar + t, 4 * bar + t + d, p, v) for p in voice)
    return notes


def bass_notes(rng, c, program, level):
    """Bass line in a low register: roots and fifths, boogie for blues, walking quarters for jazz."""
    lo, kind, notes = PROGRAMS[program][2], c['bass'], []
    boogie = rng.choice([(0, 4, 7, 9), (0, 0, 4, 4, 7, 7, 9, 9), (0, 4, 7, 9, 10, 9, 7, 4)])
    roots = [lo + ((c['key'] + ch[0]) % 12 - lo) % 12 for ch in c['chords']] + [None]
    for bar, chord in enumerate(c['chords']):
        root, ivs, b = roots[bar], QUALITY[chord[1]], 4 * bar
        if kind == 'whole':
            line = [(0, 4, root)]
        elif kind == 'halves':
            line = [(0, 2, root), (2, 2, root + rng.choice([7, 12, 0]))]
        elif kind == 'root_fifth':
            line = [(0, 1, root), (2, 1, root + 7 if root + 7 <= lo + 12 else root - 5)]
        elif kind == 'pop':
            line = [(0, 1.5, root), (1.5, 0.5, root), (2, 1, root + 7), (3, 1, root + rng.choice([0, 12, 7]))]
        elif kind == 'eighths':
            line = [(k / 2, 0.45, root) for k in range(8)]
        elif kind == 'offbeat':
            line = [(0, 0.25, root)] + [(k + 0.5, 0.4, root + (12 if k == 3 else 0)) for k in range(4)]
        elif kind == 'boogie':
            n = len(boogie)
            line = [(k * 4 / n, 4 / n * 0.9, root + (ivs[1] if iv == 4 else iv)) for k, iv in enumerate(boogie)]
        else:  # walking quarters, the last one approaching the next bar's root
            target = roots[bar + 1] if roots[bar + 1] is not None else root
            line = [(0, 1, root), (1, 1, root + rng.choice(ivs[1:])), (2, 1, root + rng.choice((7, ivs[-1], 12))),
                    (3, 1, target + rng.choice((-1, 1, 2)))]
        notes.extend((b + t, b + t + d * 0.95, p, velocity(rng, level)) for t, d, p in line)
    return notes


def drum_notes(rng, c, pattern, level, tight):
    """GM drums on channel 9 from a 16th-grid pattern, with crashes on progression starts and fills."""
    notes = []
    for bar in range(c['bars']):
        hits = dict(DRUM_PATTERNS[pattern])
        if tight and pattern not in ('jazz', 'light', 'shuffle'):  # electronic kit: 16th hats
            hits[42] = (tuple(s for s in range(16) if s not in hits.get(46, ((),))[0]), 0.45)
        if pattern not in ('jazz', 'light', 'shuffle') and bar % c['prog_len'] == 0:
            hits[CRASH] = ((0,), 0.8)
        if pattern in ('rock', 'pop') and bar % 4 == 3 and rng.random() < 0.5:
            hits[42] = (tuple(s for s in hits[42][0] if s < 12), hits[42][1])
            hits[38] = ((4, 12, 13, 14, 15), 0.9)
        for note, (steps, lv) in hits.items():
            for s in steps:
                v = velocity(rng, level * lv * (1.12 if s % 4 == 0 else 1.0), 0 if tight else 6)
                notes.append((4 * bar + s / 4, 4 * bar + s / 4 + 0.2, note, v))
    return notes


def compose(rng, seconds):
    """Pick artist, genres, key, tempo and progression; return (index entry fields, MIDI parts, swing)."""
    artist = rng.choice(ARTISTS)
    genres = pick_genres(rng, artist)
    main = genres[0]
    mode = 'major' if 'blues' in genres else rng.choice(['major', 'minor'])
    key, tempo = rng.randrange(12), rng.randint(*TEMPO[main])
    source = main if len(genres) == 1 or rng.random() < 0.75 else genres[1]  # mostly the main genre's
    progression = [parse_roman(t) for t in rng.choice(PROGRESSIONS[source][mode]).split()]
    turn = 4 * rng.randrange(len(progression) // 4)  # a clip of an 8/12-bar form may start at bar 4 or 8
    progression = progression[turn:] + progression[:turn]
    if main == 'jazz':
        progression = [with_seventh(ch) for ch in progression]
    elif main == 'blues':
        progression = [(offset, '7' if quality == '' else quality) for offset, quality in progression]
    audible = math.ceil(seconds * tempo / 240 - 1e-9)  # bars starting inside the clip
    c = {'main': main, 'key': key, 'bars': audible + 1, 'prog_len': len(progression), 'bass': BASS[main],
         'scale': SCALES['blues' if 'blues' in genres else mode],
         'rhythm_genre': genres[-1] if rng.random() < 0.3 else main,
         'phrase_bars': 4 if main == 'ambient' else rng.choice([2, 4])}
    c['chords'] = [progression[b % len(progression)] for b in range(c['bars'])]
    programs, kit = pick_instruments(rng, artist)
    lo_v, hi_v = VELOCITY[main]
    level = rng.randint(lo_v, hi_v)
    parts = []  # (name, channel, program, notes)
    melody_range = PROGRAMS[programs['melody']][1]
    parts.append(('melody', 0, programs['melody'], melody_notes(rng, c, *melody_range, level + 6)))
    if 'arp' in programs:
        parts.append(('arp', 1, programs['arp'], chord_notes(rng, c, programs['arp'], 'arp', level - 12)))
    else:
        if artist == 'dr_noise':
            kind = 'sustain'
        elif artist == 'gaussian_quartet':
            kind = 'sustain' if main == 'ambient' else 'quarters' if main in ('pop', 'rock', 'electronic') else 'halves'
        else:
            kind = COMP[main]
        power = artist == 'the_random_walkers' and main == 'rock'
        chords = chord_notes(rng, c, programs['chords'], kind, level - 10, power)
        parts.append(('chords', 1, programs['chords'], chords))
        parts.append(('bass', 2, programs['bass'], bass_notes(rng, c, programs['bass'], level)))
    pattern = DRUMS[main]
    if kit is not None and not (pattern == 'light' and rng.random() < 0.5):
        parts.append(('drums', 9, kit, drum_notes(rng, c, pattern, level, artist == 'dr_noise')))
    symbols = [chord_symbol(ch, key) for ch in c['chords'][:audible]]
    instruments = sorted({PROGRAMS[p][0] for p in programs.values()}) + [KITS[p[2]] for p in parts if p[1] == 9]
    lyrics = ''.join(s.ljust(5) for s in symbols)
    assert set(lyrics) <= LYRIC_VOCAB, lyrics
    entry = {'artist': artist, 'genres': genres, 'lyrics': lyrics,
             'tempo': tempo, 'key': f"{NOTE_NAMES[key]} {mode}", 'chords': symbols, 'instruments': instruments}
    return entry, parts, main in SWING


def to_tick(beat, swing):
    """Beat position -> MIDI tick; with swing, the off-beat eighth moves to 2/3 of the beat."""
    if swing:
        whole = math.floor(beat)
        frac = beat - whole
        beat = whole + (frac * 4 / 3 if frac <= 0.5 else 2 / 3 + (frac - 0.5) * 2 / 3)
    return int(round(beat * TPB))


def write_midi(path, tempo, parts, swing):
    """Type-1 MIDI: a tempo track, then one track per part with its program change on its own channel."""
    mf = mido.MidiFile(type=1, ticks_per_beat=TPB)
    mf.tracks.append(mido.MidiTrack([
        mido.MetaMessage('set_tempo', tempo=mido.bpm2tempo(tempo)),
        mido.MetaMessage('time_signature', numerator=4, denominator=4), mido.MetaMessage('end_of_track')]))
    for name, channel, program, notes in parts:
        events = []
        for start, end, pitch, vel in notes:
            on = to_tick(start, swing)
            events.append((on, 1, pitch, vel))
            events.append((max(to_tick(end, swing), on + 1), 0, pitch, 0))
        track = mido.MidiTrack([mido.MetaMessage('track_name', name=name),
                                mido.Message('program_change', channel=channel, program=program)])
        now = 0
        for tick, is_on, pitch, vel in sorted(events):  # note-offs before note-ons at the same tick
            kind = 'note_on' if is_on else 'note_off'
            track.append(mido.Message(kind, channel=channel, note=pitch, velocity=vel, time=tick - now))
            now = tick
        track.append(mido.MetaMessage('end_of_track'))
        mf.tracks.append(track)
    mf.save(path)


def synthesize(midi, raw, seconds, sr, soundfont):
    """Render a MIDI file with fluidsynth into raw (a scratch path); return (mono audio cut/padded to seconds,
    at RMS 0.1 and peak <= 0.99, float64), whether it was peak-limited)."""
    cmd = ['fluidsynth', '-n', '-i', '-q', '-R', '0', '-C', '0', '-g', GAIN, '-r', str(sr), '-O', 'float',
           '-T', 'wav', '-F', raw, soundfont, midi]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0 or not os.path.isfile(raw):
        raise RuntimeError(f'fluidsynth failed on {os.path.basename(midi)}: '
                           f'{(proc.stderr.strip() or "no output").splitlines()[-1]}')
    with warnings.catch_warnings():  # libsndfile's PEAK chunk
        warnings.simplefilter('ignore', wavfile.WavFileWarning)
        rate, data = wavfile.read(raw)
    os.remove(raw)
    if rate != sr:
        raise RuntimeError(f'fluidsynth rendered {os.path.basename(midi)} at {rate} Hz instead of {sr}')
    x = data.astype(np.float64)
    x = x.mean(axis=1) if x.ndim == 2 else x
    n = int(round(seconds * sr))
    x = np.pad(x[:n], (0, max(0, n - len(x))))
    rms = float(np.sqrt(np.mean(x ** 2)))
    x = x * (0.1 / rms) if rms > 0 else x
    peak = float(np.max(np.abs(x)))
    if peak > 0.99:
        x *= 0.99 / peak
    return x, peak > 0.99


def render_clip(job):
    """Compose, render and normalise clip i; returns its index entry and whether it was peak-limited."""
    i, seed, seconds, sr, soundfont, tmp, out = job
    rng = random.Random(seed * 100003 + i)
    entry, parts, swing = compose(rng, seconds)
    midi, raw = os.path.join(tmp, f'{i:04d}.mid'), os.path.join(tmp, f'{i:04d}.raw.wav')
    write_midi(midi, entry['tempo'], parts, swing)
    x, limited = synthesize(midi, raw, seconds, sr, soundfont)
    wavfile.write(os.path.join(out, 'clips', f'{i:04d}.wav'), sr, np.round(x * 32767).astype('<i2'))
    os.remove(midi)
    return dict(file=f'clips/{i:04d}.wav', **entry), limited


def main():
    """Parse arguments, check the tools, render every clip in --jobs processes, write index.json."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--out', required=True, help='output folder (outside the repository)')
    ap.add_argument('--clips', type=int, default=240)
    ap.add_argument('--seconds', type=float, default=10.0)
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--sr', type=int, default=16000)
    ap.add_argument('--soundfont', default='/usr/share/sounds/sf2/TimGM6mb.sf2')
    ap.add_argument('--held-out', type=float, default=0.1, help='fraction of clips (the last ones) held out')
    ap.add_argument('--jobs', type=int, default=2, help='parallel render processes')
    args = ap.parse_args()
    if shutil.which('fluidsynth') is None:
        sys.exit('music_corpus: fluidsynth not found on PATH (apt-get install fluidsynth)')
    if not os.path.isfile(args.soundfont):
        sys.exit(f'music_corpus: soundfont not found: {args.soundfont} (apt-get install fluid-soundfont-gm)')
    if args.clips < 1 or args.seconds <= 0 or args.sr < 8000 or not 0 <= args.held_out < 1 or args.jobs < 1:
        sys.exit('music_corpus: need --clips >= 1, --seconds > 0, --sr >= 8000, 0 <= --held-out < 1, --jobs >= 1')
    seconds = int(args.seconds) if args.seconds.is_integer() else args.seconds
    t0 = time.time()
    clips_dir = os.path.join(args.out, 'clips')
    os.makedirs(clips_dir, exist_ok=True)
    for name in os.listdir(clips_dir):  # clips of an earlier, larger run
        if re.fullmatch(r'\d{4,}\.wav', name) and int(name[:-4]) >= args.clips:
            os.remove(os.path.join(clips_dir, name))
    soundfont = os.path.abspath(args.soundfont)
    with tempfile.TemporaryDirectory(prefix='music-corpus-') as tmp:
        jobs = [(i, args.seed, seconds, args.sr, soundfont, tmp, args.out) for i in range(args.clips)]
        try:
            if args.jobs == 1:
                results = [render_clip(j) for j in jobs]
            else:
                with Pool(min(args.jobs, args.clips)) as pool:
                    results = pool.map(render_clip, jobs, chunksize=1)
        except RuntimeError as err:
            sys.exit(f'music_corpus: {err}')
    held = round(args.held_out * args.clips)
    clips = []
    for i, (entry, _) in enumerate(results):
        entry['seconds'] = seconds
        entry['split'] = 'held_out' if i >= args.clips - held else 'train'
        order = ('file', 'artist', 'genres', 'lyrics', 'seconds', 'tempo', 'key', 'split', 'chords', 'instruments')
        clips.append({k: entry[k] for k in order})
    index = {'sr': args.sr, 'seed': args.seed, 'soundfont': os.path.basename(args.soundfont), 'clips': clips}
    with open(os.path.join(args.out, 'index.json'), 'w') as f:
        f.write(json.dumps(index, indent=1) + '\n')
    limited = sum(1 for _, lim in results if lim)
    print(f'music_corpus: {args.clips} clips ({args.clips - held} train, {held} held_out), '
          f'{args.clips * seconds / 60:.1f} min of audio, {limited} peak-limited, '
          f'{time.time() - t0:.1f} s -> {args.out}')


if __name__ == '__main__':
    main()
