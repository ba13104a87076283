# Sourced by the remote-storage benchmarks (s3.sh, s3-restore-ab.sh): the synthetic tree they
# back up and the digest that checks a restore against it.
#
#   build_tree DIR MB   three quarters of MB in 128 MiB files, a quarter in 100 KiB files over
#                       20 directories; random bytes, so every byte is new data for every tool
#   tree_digest DIR     one hash over every file's path and content (restores must match it)

build_tree() {
  local src=$1 mb=$2 i dir count
  mkdir -p "$src/large"
  for i in $(seq 1 $((mb * 3 / 4 / 128))); do head -c $((128 << 20)) /dev/urandom >"$src/large/part-$i.bin"; done
  count=$((mb * 10 / 4))
  for i in $(seq 0 $((count - 1))); do
    dir=$src/small/dir-$((i % 20))
    [ -d "$dir" ] || mkdir -p "$dir"
    head -c 102400 /dev/urandom >"$dir/file-$i.dat"
  done
}

tree_digest() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-32); }
