#!/usr/bin/env bash
# books-configmap.sh BOOKDIR... — prints the ConfigMap runbook-books: each book
# directory (book.lua, sections, lib/, manifests/) as one gzipped tar (binaryData
# BOOK.tgz), which the pods' init container unpacks into /books. A ConfigMap
# holds at most 1 MiB. Usage:
#   deploy/books-configmap.sh runbooks/tmi | kubectl -n NS apply -f -
set -eu
[ $# -ge 1 ] || { echo "usage: $0 BOOKDIR..." >&2; exit 2; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
args=()
for d in "$@"; do
    [ -f "$d/book.lua" ] || { echo "$d: no book.lua (not a book directory)" >&2; exit 2; }
    name=$(basename "$d")
    tar -czf "$tmp/$name.tgz" --owner=0 --group=0 --mode='u+rwX,go+rX,go-w' -C "$(dirname "$d")" "$name"
    args+=("--from-file=$name.tgz=$tmp/$name.tgz")
done
kubectl create configmap runbook-books "${args[@]}" --dry-run=client -o yaml \
    | sed 's/^  name: runbook-books$/  name: runbook-books\n  labels: { app.kubernetes.io\/name: runbook }/'
