#!/usr/bin/env bash
# Builds and runs the examples against the installed Stepwise artifacts (`mvn install` in the parent folder first),
# and checks the dependency promise: generating pulls no CLI, progress bar, logging binding or libtorch; exporting
# adds only the reference module (and what it brings: DJL's PyTorch engine).
set -euo pipefail
cd "$(dirname "$0")"
mvn -B -q package
mvn -B -q -pl generate dependency:tree -DoutputFile=target/tree.txt
mvn -B -q -pl export dependency:tree -DoutputFile=target/tree.txt
if grep -E 'picocli|progressbar|slf4j-(nop|simple|jdk|reload4j|log4j)|logback|pytorch|stepwise-reference|stepwise-cli' generate/target/tree.txt; then
  echo "examples: the generate path pulls an artifact it must not (above)" >&2; exit 1
fi
extra=$(grep -oE '(dev\.stepwise|info\.picocli|me\.tongfei|org\.slf4j:slf4j-nop)[^ ]*' export/target/tree.txt | cut -d: -f1,2 | sort -u \
        | comm -23 - <(grep -oE '(dev\.stepwise|info\.picocli|me\.tongfei|org\.slf4j:slf4j-nop)[^ ]*' generate/target/tree.txt | cut -d: -f1,2 | sort -u))
[ "$extra" = "dev.stepwise:stepwise-reference" ] || { echo "examples: export adds $extra, expected only stepwise-reference" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
mvn -B -q -pl export exec:java -Dexec.args="../../shared/fixtures/pylm-llama-trained $out"
mvn -B -q -pl generate exec:java -Dexec.args="$out/int8 def"
