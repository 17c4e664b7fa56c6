#!/bin/sh
# mkman.sh - builds the manual pages strata(1) and strata-server(1) from their
# templates and the programs' own help texts, so a page and --help never
# disagree (strata-server has no @COMMANDS@).
#
# usage: sh mkman.sh PROGRAM TEMPLATE > PAGE.1
#
# The template is roff (man macros) with two marker lines:
#   @USAGE@     replaced by 'PROGRAM --help', preformatted
#   @COMMANDS@  replaced by one .SS section per command, holding its
#               'strata <command> --help' text, preformatted
# Help text is escaped for roff: a backslash becomes \e, and a line that
# starts with '.' or "'" (a roff request) is prefixed with \&.
set -e
S=$1
TEMPLATE=$2
[ -x "$S" ] && [ -f "$TEMPLATE" ] || { echo "usage: sh mkman.sh STRATA_BINARY TEMPLATE" >&2; exit 2; }

escape() {
  sed -e 's/\\/\\e/g' -e "s/^\\([.']\\)/\\\\\\&\\1/"
}

preformatted() {
  echo ".PP"
  echo ".nf"
  echo ".in +2"
  escape
  echo ".in"
  echo ".fi"
}

commands=$("$S" --help | sed -n '/^Commands:/,/^$/p' | sed -n 's/^  \([a-z][a-z]*\) .*/\1/p')

while IFS= read -r line; do
  case $line in
  @USAGE@)
    "$S" --help | preformatted
    ;;
  @COMMANDS@)
    for c in $commands; do
      echo ".SS \"strata $c\""
      "$S" help "$c" | preformatted
    done
    ;;
  *)
    printf '%s\n' "$line"
    ;;
  esac
done <"$TEMPLATE"
