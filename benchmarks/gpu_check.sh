#!/usr/bin/env bash
# The CUDA paths CI never runs, as one script for a lent GPU machine: the CUDA-only tests, Lab 2 (smoke) trained
# and timed on CUDA, and Lab 5 with its GPU section (the rewrite timed with CUDA events, labkit's Triton matmul
# against cuBLAS at the lab's default sizes). Run from the repository root. Where the machine's Python lacks the
# notebook stack, put its wheels in .whl/ (see /work/.library/device/README.md) and MNIST's IDX files, gzipped,
# in .gpudata/. Writes the executed notebooks, the Triton table and a log to $OUT (default /tmp/gpu_check).
set -uo pipefail
out=${OUT:-/tmp/gpu_check}
mkdir -p "$out"
exec > >(tee "$out/gpu_check.log") 2>&1
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" JUPYTER_PATH=/tmp/kernels/share/jupyter LABKIT_PROGRESS=text
python3 -m ipykernel install --prefix /tmp/kernels --name python3 >/dev/null
data=/tmp/gpu_data
if [ -d .gpudata ]; then
  mkdir -p "$data/MNIST/raw"
  for f in .gpudata/*.gz; do gunzip -c "$f" > "$data/MNIST/raw/$(basename "$f" .gz)"; done
else
  data=${LABKIT_DATA_DIR:-../shared/data}
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
python3 -c "import torch, triton; print('torch', torch.__version__, 'triton', triton.__version__, torch.cuda.get_device_name(), torch.get_num_threads(), 'threads')"
echo "== CUDA-only tests"
python3 -m pytest -q -p no:cacheprovider -o addopts="" tests/test_gpu_matmul.py tests/test_timing.py tests/test_sysinfo.py tests/test_train.py 2>&1 | tail -4
reports=/tmp/gpu_reports
echo "== Lab 2 on CUDA (smoke)"
start=$SECONDS
python3 -m labkit.course.cli run 02 --smoke -p device cuda -p tracking false --data-dir "$data" --reports-dir "$reports"
echo "lab 2: rc $? in $((SECONDS - start)) s"
echo "== Lab 5 with its GPU section (small data, no compile; the default GPU sizes and latency repeats)"
start=$SECONDS  # not --smoke: it would shrink gpu_sizes and latency_repeats too
python3 -m labkit.course.cli run 05 -p dataset mnist -p train_limit 1500 -p test_limit 500 -p fallback_epochs 1 \
  -p compile false -p profile_repeats 3 -p rounds 2 --data-dir "$data" --reports-dir "$reports"
echo "lab 5: rc $? in $((SECONDS - start)) s"
cp "$reports/02_cnn_sweeps/02_cnn_sweeps.ipynb" "$reports/02_cnn_sweeps/results.csv" "$out/" 2>/dev/null
cp "$reports/05_gemm_rewrite/05_gemm_rewrite.ipynb" "$reports/05_gemm_rewrite/triton_vs_cublas.csv" "$out/" 2>/dev/null
cat "$reports/05_gemm_rewrite/triton_vs_cublas.csv" 2>/dev/null
