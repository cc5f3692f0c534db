#!/bin/sh
# Greets each name in names.txt, writing its results into out/ as a real
# pipeline step would; nbatch brings out/ back with its modes and times.
set -eu
mkdir -p out
while read -r name; do
  echo "Hello, $name!"
done < names.txt > out/greetings.txt
printf '#!/bin/sh\ncat "$(dirname "$0")/greetings.txt"\n' > out/show.sh
chmod 755 out/show.sh
echo "greeted $(wc -l < out/greetings.txt | tr -d ' ') names"
