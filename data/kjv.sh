#!/usr/bin/env bash
# The default corpus: the King James Bible from Debian's bible-kjv and bible-kjv-text packages,
# as clean text, one file per book (66 documents), verse references and line wrapping removed.
#
#   data/kjv.sh [OUT_DIR]      (default: data/cache/kjv under the repository)
#
# Nothing is installed and no root is needed (except for `apt-get update` when this machine has
# never fetched its package lists): the two .deb files are fetched with `apt-get download`,
# unpacked with `dpkg-deb -x` into a temporary directory, and the unpacked `bible` program is run
# on the unpacked text with `-p`. Idempotent: a complete OUT_DIR is left as it is. The books are
# written to a temporary directory first and renamed into place, so OUT_DIR is complete or absent.
#
# Each book file: one verse per line (the verse's text only), a blank line between chapters.
# Names: NN-book-name.txt in canonical order, 01-genesis.txt ... 66-revelation.txt.
# Exit status: 0 ok; 3 when the user must act (no apt-get/dpkg-deb, package lists missing without
# root, download failed, OUT_DIR holds something else), with a message saying what; 1 anything else.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$repo/data/cache/kjv}
books=66

count_books() { find "$1" -maxdepth 1 -name '[0-9][0-9]-*.txt' -type f 2>/dev/null | wc -l; }
if [ -d "$out" ] && [ "$(count_books "$out")" -eq "$books" ]; then
  echo "kjv: $out is complete ($books books)" >&2
  exit 0
fi
if [ -e "$out" ] && [ -n "$(ls -A "$out" 2>/dev/null)" ]; then
  echo "kjv: $out exists but does not hold the $books books; remove it or choose another directory" >&2
  exit 3
fi

for tool in apt-get dpkg-deb; do
  if ! command -v "$tool" >/dev/null; then
    echo "kjv: '$tool' is not available. The default corpus comes from Debian's bible-kjv packages," >&2
    echo "kjv: which need apt-get and dpkg-deb (Debian or Ubuntu). Elsewhere, train on your own text:" >&2
    echo "kjv: point the data source at a file, a directory of files or a glob." >&2
    exit 3
  fi
done

mkdir -p "$(dirname "$out")"
tmp=$(mktemp -d "$(dirname "$out")/.kjv.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp" # apt's unprivileged _apt user must be able to write the download there

# Package lists are missing on a fresh machine (e.g. a Docker image): fetch them first.
if ! apt-cache show bible-kjv bible-kjv-text >/dev/null 2>&1; then
  echo "kjv: package lists lack bible-kjv; running apt-get update" >&2
  if [ "$(id -u)" -eq 0 ]; then apt-get update -qq >&2
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo apt-get update -qq >&2
  else
    echo "kjv: the package lists are missing and updating them needs root: run 'sudo apt-get update', then retry" >&2
    exit 3
  fi
fi

echo "kjv: fetching bible-kjv and bible-kjv-text" >&2
if ! (cd "$tmp" && apt-get download -qq bible-kjv bible-kjv-text >&2 2> >(grep -v 'Download is performed unsandboxed' >&2)); then
  echo "kjv: apt-get download bible-kjv bible-kjv-text failed (see above); check the network and apt sources" >&2
  exit 3
fi
for deb in "$tmp"/*.deb; do dpkg-deb -x "$deb" "$tmp/root"; done

bible=("$tmp/root/usr/bin/bible" -p "$tmp/root/usr/lib")
# Book names in canonical order: the pretty-printed first verse of each book starts with a
# heading line "<Book name> 1" (e.g. "Song of Solomon 1").
# `-f` turns pretty-printing off: one verse per line, "Ge1:1 In the beginning ...".
"${bible[@]}" -f Gen1:1-Rev22:21 > "$tmp/all.txt"
abbrs=$(sed -E 's/^([0-9]?[A-Za-z]+)[0-9]+:[0-9]+ .*/\1/' "$tmp/all.txt" | uniq)
firsts=$(for a in $abbrs; do printf '%s1:1 ' "$a"; done)
# shellcheck disable=SC2086
"${bible[@]}" $firsts | grep -E '^[^ ].* 1$' | sed -E 's/ 1$//' > "$tmp/names.txt"
if [ "$(echo "$abbrs" | wc -l)" -ne "$books" ] || [ "$(wc -l < "$tmp/names.txt")" -ne "$books" ]; then
  echo "kjv: expected $books books from the bible program, found $(echo "$abbrs" | wc -l) abbreviations and $(wc -l < "$tmp/names.txt") names" >&2
  exit 1
fi

mkdir "$tmp/books"
awk -v dir="$tmp/books" '
  NR == FNR { name[NR] = $0; next }
  {
    match($0, /^[0-9]?[A-Za-z]+/); abbr = substr($0, 1, RLENGTH); rest = substr($0, RLENGTH + 1)
    split(rest, ref, /[: ]/); chapter = ref[1]
    text = substr(rest, index(rest, " ") + 1)
    gsub(/  +/, " ", text); sub(/ +$/, "", text) # a few verses have double or trailing spaces
    if (abbr != book) {
      if (file) close(file)
      n++; book = abbr; chap = chapter
      slug = tolower(name[n]); gsub(/[^a-z0-9]+/, "-", slug)
      file = sprintf("%s/%02d-%s.txt", dir, n, slug)
    } else if (chapter != chap) {
      print "" > file; chap = chapter
    }
    print text > file
  }' "$tmp/names.txt" "$tmp/all.txt"
if [ "$(count_books "$tmp/books")" -ne "$books" ]; then
  echo "kjv: wrote $(count_books "$tmp/books") books, expected $books" >&2
  exit 1
fi
chmod 755 "$tmp/books"
rmdir "$out" 2>/dev/null || true # an empty directory given as OUT_DIR
mv -T "$tmp/books" "$out"
echo "kjv: wrote $books books ($(cat "$out"/*.txt | wc -c) bytes) to $out" >&2
