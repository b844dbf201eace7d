#!/usr/bin/python3
"""Renders a terminal capture with colours (`tmux capture-pane -e -p`) as a PNG.

    assets/ansi2png.py SCREEN.ansi OUT.png

Made for assets/screenshot-ui.png: what the terminal showed, cell for cell, in DejaVu Sans
Mono on a dark background (the xterm 16-colour palette, 256-colour and true-colour SGR
too; bold, dim, reverse). Needs Pillow (Debian: python3-pil).
"""

import re
import sys

from PIL import Image, ImageDraw, ImageFont

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"
BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf"
# For the few symbols the monospace font lacks (⟳).
FALLBACK = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
# Box drawing, drawn as lines so that they join across rows: (up, down, left, right).
BOX = {
    "─": (0, 0, 1, 1), "│": (1, 1, 0, 0), "┌": (0, 1, 0, 1), "┐": (0, 1, 1, 0),
    "└": (1, 0, 0, 1), "┘": (1, 0, 1, 0), "├": (1, 1, 0, 1), "┤": (1, 1, 1, 0),
    "┬": (0, 1, 1, 1), "┴": (1, 0, 1, 1), "┼": (1, 1, 1, 1),
}
SIZE = 15
PAD = 12
FG = (220, 223, 228)
BG = (24, 26, 33)
# xterm's 16 colours, slightly softened for a dark background.
PALETTE = [
    (40, 42, 54), (224, 82, 82), (98, 196, 98), (220, 180, 70),
    (90, 140, 230), (190, 110, 210), (70, 190, 200), (200, 200, 200),
    (110, 112, 124), (255, 110, 110), (130, 230, 130), (250, 220, 100),
    (130, 170, 255), (230, 140, 250), (110, 225, 235), (255, 255, 255),
]


def colour256(n):
    if n < 16:
        return PALETTE[n]
    if n < 232:
        n -= 16
        steps = [0, 95, 135, 175, 215, 255]
        return (steps[n // 36], steps[(n // 6) % 6], steps[n % 6])
    v = 8 + (n - 232) * 10
    return (v, v, v)


def apply(params, state):
    codes = [int(p) if p else 0 for p in params.split(";")] if params else [0]
    i = 0
    while i < len(codes):
        c = codes[i]
        if c == 0:
            state.update(fg=None, bg=None, bold=False, dim=False, reverse=False)
        elif c == 1:
            state["bold"] = True
        elif c == 2:
            state["dim"] = True
        elif c == 22:
            state.update(bold=False, dim=False)
        elif c == 7:
            state["reverse"] = True
        elif c == 27:
            state["reverse"] = False
        elif 30 <= c <= 37:
            state["fg"] = PALETTE[c - 30]
        elif 90 <= c <= 97:
            state["fg"] = PALETTE[c - 90 + 8]
        elif 40 <= c <= 47:
            state["bg"] = PALETTE[c - 40]
        elif 100 <= c <= 107:
            state["bg"] = PALETTE[c - 100 + 8]
        elif c == 39:
            state["fg"] = None
        elif c == 49:
            state["bg"] = None
        elif c in (38, 48) and i + 1 < len(codes):
            key = "fg" if c == 38 else "bg"
            if codes[i + 1] == 5 and i + 2 < len(codes):
                state[key] = colour256(codes[i + 2])
                i += 2
            elif codes[i + 1] == 2 and i + 4 < len(codes):
                state[key] = tuple(codes[i + 2:i + 5])
                i += 4
        i += 1


def cells(text):
    """Rows of (char, state) from the captured text."""
    state = dict(fg=None, bg=None, bold=False, dim=False, reverse=False)
    rows = []
    for line in text.split("\n"):
        row = []
        for token in re.split(r"(\x1b\[[0-9;]*m)", line):
            match = re.fullmatch(r"\x1b\[([0-9;]*)m", token)
            if match:
                apply(match.group(1), state)
                continue
            for ch in token:
                row.append((ch, dict(state)))
        rows.append(row)
    while rows and not rows[-1]:
        rows.pop()
    return rows


def main():
    source, out = sys.argv[1], sys.argv[2]
    rows = cells(open(source, encoding="utf-8").read())
    font = ImageFont.truetype(FONT, SIZE)
    bold = ImageFont.truetype(BOLD, SIZE)
    fallback = ImageFont.truetype(FALLBACK, SIZE)
    missing = bytes(font.getmask("\uffff"))
    width = round(font.getlength("M"))
    height = round(SIZE * 1.3)
    columns = max(len(r) for r in rows)
    image = Image.new("RGB", (PAD * 2 + columns * width, PAD * 2 + len(rows) * height), BG)
    draw = ImageDraw.Draw(image)
    for y, row in enumerate(rows):
        for x, (ch, st) in enumerate(row):
            fg = st["fg"] or FG
            bg = st["bg"]
            if st["reverse"]:
                fg, bg = (bg or BG), fg
            if st["dim"] and not st["reverse"]:
                fg = tuple(int(v * 0.6 + b * 0.4) for v, b in zip(fg, BG))
            px, py = PAD + x * width, PAD + y * height
            if bg:
                draw.rectangle([px, py, px + width - 1, py + height - 1], fill=bg)
            if ch in BOX:
                up, down, west, east = BOX[ch]
                cx, cy = px + width // 2, py + height // 2
                if up:
                    draw.line([cx, py, cx, cy], fill=fg)
                if down:
                    draw.line([cx, cy, cx, py + height - 1], fill=fg)
                if west:
                    draw.line([px, cy, cx, cy], fill=fg)
                if east:
                    draw.line([cx, cy, px + width - 1, cy], fill=fg)
            elif ch != " " and bytes(font.getmask(ch)) == missing:
                draw.text((px, py + (height - SIZE) // 2 - 1), ch, font=fallback, fill=fg)
            elif ch != " ":
                draw.text((px, py + (height - SIZE) // 2 - 1), ch, font=bold if st["bold"] else font, fill=fg)
    image.save(out, optimize=True)


if __name__ == "__main__":
    main()
