// conv1d, forward and backward, as im2col + GEMM per batch item and group.
//
// Forward (torch.nn.functional.conv1d: cross-correlation, zero padding), with Cg = C_in/groups, Og = C_out/groups,
// group g of item n, o in g's output channels, c in g's input channels:
//
//   y[n,o,t] = b[o] + sum_{c,k} w[o,c,k] * x[n, c, t*stride + k*dilation - pad_left]   (x = 0 outside [0, L))
//
// written as a GEMM per (n, g): with cols[(c,k), t] = x[n, c, t*stride + k*dilation - pad_left] (im2col,
// a (Cg*K) x L_out matrix) and W_g the (Og x Cg*K) rows of w,   Y[n,g] = W_g @ cols  (+ b).
//
// Backward, given dy = dLoss/dy:
//
//   dw[o,c,k] = sum_{n,t} dy[n,o,t] * x[n, c, t*stride + k*dilation - pad_left]   i.e. dW_g = sum_n dY[n,g] @ cols^T
//   dx[n,c,i] = sum_{o,k,t : t*stride + k*dilation - pad_left = i} w[o,c,k] * dy[n,o,t]
//               i.e. dcols = W_g^T @ dY[n,g], then col2im: scatter-add each dcols entry back to the x position
//               its cols entry was read from
//   db[o]     = sum_{n,t} dy[n,o,t]
//
// When K = 1, stride 1 and no padding, cols is x[n,g] itself and dcols is dx[n,g]: a pure GEMM.
//
// Threads take contiguous ranges of batch items, each with its own cols/dcols scratch (L2-sized for text-CNN
// shapes) and, for dw, its own partial sum, reduced in thread order afterwards (deterministic for a given
// thread count). With fewer items than threads, items run one after another and the GEMM itself is threaded.
#include "seqkernels/conv1d.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "seqkernels/gemm.h"
#include "seqkernels/parallel.h"
#include "simd.h"

namespace sk {
namespace {

using V = simd::Vec;

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Sizes derived from a Conv1dShape that every loop needs.
struct Geometry {
  const Conv1dShape& s;
  int64_t cg, og, ck, lout;
  bool cols_is_input;  // K = 1, stride 1, no padding: cols == x[n,g]

  explicit Geometry(const Conv1dShape& shape)
      : s(shape),
        cg(shape.in_channels / shape.groups),
        og(shape.out_channels / shape.groups),
        ck(cg * shape.kernel_size),
        lout(shape.out_length()),
        cols_is_input(shape.kernel_size == 1 && shape.stride == 1 && shape.pad_left == 0 && shape.pad_right == 0) {}

  const float* x_at(const float* x, int64_t n, int64_t g) const { return x + (n * s.in_channels + g * cg) * s.length; }
  float* x_at(float* x, int64_t n, int64_t g) const { return x + (n * s.in_channels + g * cg) * s.length; }
  const float* y_at(const float* y, int64_t n, int64_t g) const { return y + (n * s.out_channels + g * og) * lout; }
  float* y_at(float* y, int64_t n, int64_t g) const { return y + (n * s.out_channels + g * og) * lout; }
  int64_t cols_ld() const { return cols_is_input ? s.length : lout; }

  // The output positions t in [t0, t1) whose tap k reads inside x (t*stride + k*dilation - pad_left in [0, L)).
  void valid_range(int64_t k, int64_t& offset, int64_t& t0, int64_t& t1) const {
    offset = k * s.dilation - s.pad_left;
    t0 = offset >= 0 ? 0 : std::min(lout, ceil_div(-offset, s.stride));
    t1 = s.length - offset > 0 ? std::min(lout, ceil_div(s.length - offset, s.stride)) : 0;
    t1 = std::max(t0, t1);
  }

  // cols[(c,k), t] = x_ng[c, t*stride + offset_k], zero where that falls in the padding.
  void im2col(const float* x_ng, float* cols) const {
    for (int64_t k = 0; k < s.kernel_size; ++k) {
      int64_t offset, t0, t1;
      valid_range(k, offset, t0, t1);
      for (int64_t c = 0; c < cg; ++c) {
        float* row = cols + (c * s.kernel_size + k) * lout;
        const float* src = x_ng + c * s.length + offset;
        std::fill(row, row + t0, 0.0f);
        if (s.stride == 1) {
          std::memcpy(row + t0, src + t0, sizeof(float) * (t1 - t0));
        } else {
          for (int64_t t = t0; t < t1; ++t) row[t] = src[t * s.stride];
        }
        std::fill(row + t1, row + lout, 0.0f);
      }
    }
  }

  // dx_ng[c, t*stride + offset_k] = sum over (k, t) of dcols[(c,k), t]; overwrites dx_ng.
  void col2im(const float* dcols, float* dx_ng) const {
    std::fill(dx_ng, dx_ng + cg * s.length, 0.0f);
    for (int64_t k = 0; k < s.kernel_size; ++k) {
      int64_t offset, t0, t1;
      valid_range(k, offset, t0, t1);
      for (int64_t c = 0; c < cg; ++c) {
        const float* row = dcols + (c * s.kernel_size + k) * lout;
        float* dst = dx_ng + c * s.length + offset;
        if (s.stride == 1) {
          for (int64_t t = t0; t < t1; ++t) dst[t] += row[t];
        } else {
          for (int64_t t = t0; t < t1; ++t) dst[t * s.stride] += row[t];
        }
      }
    }
  }
};

std::unique_ptr<float[]> scratch(int64_t count) {
  return std::unique_ptr<float[]>(new float[static_cast<size_t>(std::max<int64_t>(count, 1))]);
}

// One scratch buffer of `size` floats per thread that for_each_item may use, allocated on the thread's first
// get() and freed with the call (nothing stays allocated between calls).
class ThreadBuffers {
 public:
  ThreadBuffers(int threads, int64_t size) : size_(size), buffers_(static_cast<size_t>(threads)) {}
  float* get(int t) {
    auto& buffer = buffers_[static_cast<size_t>(t)];
    if (!buffer) buffer = scratch(size_);
    return buffer.get();
  }

 private:
  int64_t size_;
  std::vector<std::unique_ptr<float[]>> buffers_;
};

// How many threads for_each_item uses: one per batch item at most, and one per ~1M multiply-adds so that tiny
// convolutions do not pay for waking threads. With a single thread, the GEMMs inside thread themselves.
int item_threads(const Geometry& geo) {
  const int64_t multiply_adds = geo.s.batch * geo.s.out_channels * geo.ck * geo.lout;
  const int64_t by_work = std::max<int64_t>(1, multiply_adds >> 20);
  return static_cast<int>(std::max<int64_t>(1, std::min({int64_t{num_threads()}, geo.s.batch, by_work})));
}

// Runs item(n, thread) for every batch item, each of `threads` threads over a contiguous range of items, and
// returns how many threads ran (OpenMP may grant fewer).
template <class Fn>
int for_each_item(int64_t batch, int threads, Fn&& item) {
  int used = 1;
  parallel_region(threads, [&](int t, int count) {
    if (t == 0) used = count;
    for (int64_t n = batch * t / count, end = batch * (t + 1) / count; n < end; ++n) item(n, t);
  });
  return used;
}

float sum(const float* p, int64_t n) {
  V::T acc = V::zero();
  int64_t i = 0;
  for (; i + V::W <= n; i += V::W) acc = V::add(acc, V::loadu(p + i));
  alignas(64) float lanes[V::W];
  V::store(lanes, acc);
  float total = 0.0f;
  for (float lane : lanes) total += lane;
  for (; i < n; ++i) total += p[i];
  return total;
}

}  // namespace

void conv1d_forward(const Conv1dShape& s, const float* x, const float* w, const float* b, float* y) {
  const Geometry geo(s);
  const int threads = item_threads(geo);
  ThreadBuffers cols_buffers(threads, geo.cols_is_input ? 0 : geo.ck * geo.lout);
  for_each_item(s.batch, threads, [&](int64_t n, int t) {
    for (int64_t g = 0; g < s.groups; ++g) {
      const float* cols = geo.x_at(x, n, g);
      if (!geo.cols_is_input) {
        geo.im2col(cols, cols_buffers.get(t));
        cols = cols_buffers.get(t);
      }
      float* y_ng = geo.y_at(y, n, g);
      gemm(false, false, geo.og, geo.lout, geo.ck, 1.0f, w + g * geo.og * geo.ck, geo.ck, cols, geo.cols_ld(), 0.0f,
           y_ng, geo.lout);
      if (b) {
        for (int64_t o = 0; o < geo.og; ++o) {
          const float bias = b[g * geo.og + o];
          float* row = y_ng + o * geo.lout;
          for (int64_t t = 0; t < geo.lout; ++t) row[t] += bias;
        }
      }
    }
  });
}

void conv1d_backward(const Conv1dShape& s, const float* x, const float* w, const float* dy, float* dx, float* dw,
                     float* db) {
  const Geometry geo(s);
  if (s.batch == 0) {
    if (dw) std::fill(dw, dw + s.out_channels * geo.ck, 0.0f);
    if (db) std::fill(db, db + s.out_channels, 0.0f);
    return;
  }
  if (db) {
    parallel_for(s.out_channels, 16, [&](int64_t begin, int64_t end) {
      for (int64_t o = begin; o < end; ++o) {
        float total = 0.0f;
        for (int64_t n = 0; n < s.batch; ++n) total += sum(dy + (n * s.out_channels + o) * geo.lout, geo.lout);
        db[o] = total;
      }
    });
  }
  if (!dx && !dw) return;

  // Thread 0 accumulates dw in place; thread t > 0 into partials[t - 1], each starting with beta = 0.
  const int64_t w_size = s.out_channels * geo.ck;
  const int threads = item_threads(geo);
  std::vector<std::unique_ptr<float[]>> partials;
  if (dw)
    for (int t = 1; t < threads; ++t) partials.push_back(scratch(w_size));
  std::vector<int64_t> first_item(static_cast<size_t>(threads), -1);

  const int64_t cols_size = geo.cols_is_input ? 0 : geo.ck * geo.lout;
  ThreadBuffers cols_buffers(threads, dw ? cols_size : 0), dcols_buffers(threads, dx ? cols_size : 0);
  const int used = for_each_item(s.batch, threads, [&](int64_t n, int t) {
    if (first_item[t] < 0) first_item[t] = n;
    float* dw_t = t == 0 ? dw : partials.empty() ? nullptr : partials[t - 1].get();
    for (int64_t g = 0; g < s.groups; ++g) {
      const float* dy_ng = geo.y_at(dy, n, g);
      const float* w_g = w + g * geo.og * geo.ck;
      if (dw) {
        const float* cols = geo.x_at(x, n, g);
        if (!geo.cols_is_input) {
          geo.im2col(cols, cols_buffers.get(t));
          cols = cols_buffers.get(t);
        }
        gemm(false, true, geo.og, geo.ck, geo.lout, 1.0f, dy_ng, geo.lout, cols, geo.cols_ld(),
             first_item[t] == n ? 0.0f : 1.0f, dw_t + g * geo.og * geo.ck, geo.ck);
      }
      if (dx) {
        float* dx_ng = geo.x_at(dx, n, g);
        float* dcols = geo.cols_is_input ? dx_ng : dcols_buffers.get(t);
        gemm(true, false, geo.ck, geo.lout, geo.og, 1.0f, w_g, geo.ck, dy_ng, geo.lout, 0.0f, dcols, geo.cols_ld());
        if (!geo.cols_is_input) geo.col2im(dcols, dx_ng);
      }
    }
  });

  if (dw && used > 1) {
    parallel_for(w_size, 4096, [&](int64_t begin, int64_t end) {
      for (int t = 1; t < used; ++t) {
        const float* p = partials[t - 1].get();
        for (int64_t i = begin; i < end; ++i) dw[i] += p[i];
      }
    });
  }
}

}  // namespace sk
