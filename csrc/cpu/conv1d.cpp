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
// Depthwise convolutions (one input channel per group) would make each group's GEMM a single row, so they run as
// direct loops over the taps instead: each y row, dx row and dw row is owned by one thread.
//
// Threads take contiguous ranges of batch items, each with its own cols/dcols scratch (L2-sized for text-CNN
// shapes) and, for dw, its own partial sum, reduced in thread order afterwards (deterministic for a given
// thread count). A single item, or under ~1M multiply-adds per thread, runs on one thread whose GEMMs thread
// themselves.
#include "seqkernels/conv1d.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

#include "seqkernels/checked_math.h"
#include "seqkernels/gemm.h"
#include "seqkernels/parallel.h"
#include "scratch.h"
#include "simd.h"

namespace sk {
namespace {

using V = simd::Vec;

// Sizes derived from a Conv1dShape that every loop needs.
struct Geometry {
  const Conv1dShape& s;
  int64_t cg, og, ck, lout;
  bool cols_is_input;  // K = 1, stride 1, no padding: cols == x[n,g]
  bool depthwise;      // one input channel per group: direct loops instead of one-row GEMMs

  explicit Geometry(const Conv1dShape& shape)
      : s(shape),
        cg(shape.in_channels / shape.groups),
        og(shape.out_channels / shape.groups),
        ck(cg * shape.kernel_size),
        lout(shape.out_length()),
        cols_is_input(shape.kernel_size == 1 && shape.stride == 1 && shape.pad_left == 0 && shape.pad_right == 0),
        depthwise(cg == 1 && shape.groups > 1) {}

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

std::unique_ptr<float[]> allocate_floats(int64_t count) {
  return std::unique_ptr<float[]>(new float[static_cast<size_t>(std::max<int64_t>(count, 1))]);
}

// How many threads for_each_item uses: one per batch item at most, and one per ~1M multiply-adds so that tiny
// convolutions do not pay for waking threads. With a single thread, the GEMMs inside thread themselves.
int item_threads(const Geometry& geo) {
  const int64_t multiply_adds = geo.s.batch * geo.s.out_channels * geo.ck * geo.lout;
  const int64_t by_work = std::max<int64_t>(1, multiply_adds >> 20);
  return static_cast<int>(std::max<int64_t>(1, std::min({int64_t{num_threads()}, geo.s.batch, by_work})));
}

// Runs item(n, thread) for every batch item, each of `threads` threads over a contiguous range of items, and
// returns how many threads ran.
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

// a[0..count) . b[0, stride, 2*stride, ...]
float strided_dot(const float* a, const float* b, int64_t count, int64_t stride) {
  if (stride != 1) {
    float total = 0.0f;
    for (int64_t t = 0; t < count; ++t) total += a[t] * b[t * stride];
    return total;
  }
  V::T acc = V::zero();
  int64_t t = 0;
  for (; t + V::W <= count; t += V::W) acc = V::fmadd(V::loadu(a + t), V::loadu(b + t), acc);
  alignas(64) float lanes[V::W];
  V::store(lanes, acc);
  float total = 0.0f;
  for (float lane : lanes) total += lane;
  for (; t < count; ++t) total += a[t] * b[t];
  return total;
}

// Rows of `row_length` outputs, each costing `taps` multiply-adds per output: enough rows per chunk to be worth a
// thread.
int64_t row_grain(int64_t row_length, int64_t taps) {
  return std::max<int64_t>(1, (int64_t{1} << 16) / std::max<int64_t>(1, row_length * taps));
}

// dst[i] += sum_k weight[k] * src[i + offset[k]] for i in [0, n), src being zero outside [0, src_length). Where
// every tap is in range, the taps of W outputs accumulate in one register before a single store.
void add_shifted_taps(float* dst, int64_t n, const float* src, int64_t src_length, const std::vector<int64_t>& offset,
                      const float* weight) {
  const int64_t taps = static_cast<int64_t>(offset.size());
  int64_t lo = 0, hi = n;
  for (int64_t off : offset) {
    lo = std::max(lo, -off);
    hi = std::min(hi, src_length - off);
  }
  if (lo >= hi) lo = hi = n;  // no output has every tap inside: all of it is edge
  auto edge = [&](int64_t begin, int64_t end) {
    for (int64_t k = 0; k < taps; ++k) {
      const int64_t off = offset[k];
      for (int64_t i = std::max(begin, -off), stop = std::min(end, src_length - off); i < stop; ++i)
        dst[i] += weight[k] * src[i + off];
    }
  };
  edge(0, lo);
  edge(hi, n);
  int64_t i = lo;
  for (; i + V::W <= hi; i += V::W) {
    V::T acc = V::loadu(dst + i);
    for (int64_t k = 0; k < taps; ++k) acc = V::fmadd(V::set1(weight[k]), V::loadu(src + i + offset[k]), acc);
    V::storeu(dst + i, acc);
  }
  for (; i < hi; ++i) {
    float acc = dst[i];
    for (int64_t k = 0; k < taps; ++k) acc += weight[k] * src[i + offset[k]];
    dst[i] = acc;
  }
}

// Tap k reads x at t * stride + k * dilation - pad_left. For stride 1 that is a shift: forward reads x at
// t + offset[k]; backward reads dy at i - offset[k] (for dx position i).
std::vector<int64_t> tap_offsets(const Conv1dShape& s, int sign) {
  std::vector<int64_t> offset(static_cast<size_t>(s.kernel_size));
  for (int64_t k = 0; k < s.kernel_size; ++k) offset[k] = sign * (k * s.dilation - s.pad_left);
  return offset;
}

// Taps that fall in the zero padding are skipped by the direct loops; a non-finite weight must still give
// w * 0 = NaN at those outputs, as torch (and the im2col GEMM path) do. Only non-finite weights are revisited.
void add_padding_products(const Geometry& geo, const float* w, float* y) {
  const Conv1dShape& s = geo.s;
  for (int64_t o = 0; o < s.out_channels; ++o)
    for (int64_t k = 0; k < s.kernel_size; ++k) {
      const float wk = w[o * s.kernel_size + k];
      if (std::isfinite(wk)) continue;
      int64_t off, t0, t1;
      geo.valid_range(k, off, t0, t1);
      for (int64_t n = 0; n < s.batch; ++n) {
        float* dst = y + (n * s.out_channels + o) * geo.lout;
        for (int64_t t = 0; t < t0; ++t) dst[t] += wk * 0.0f;
        for (int64_t t = t1; t < geo.lout; ++t) dst[t] += wk * 0.0f;
      }
    }
}

void depthwise_forward(const Geometry& geo, const float* x, const float* w, const float* b, float* y) {
  const Conv1dShape& s = geo.s;
  const std::vector<int64_t> offset = tap_offsets(s, +1);
  parallel_for(s.batch * s.out_channels, row_grain(geo.lout, s.kernel_size), [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const int64_t n = row / s.out_channels, o = row % s.out_channels;
      const float* src = x + (n * s.in_channels + o / geo.og) * s.length;
      const float* wo = w + o * s.kernel_size;
      float* dst = y + row * geo.lout;
      std::fill(dst, dst + geo.lout, b ? b[o] : 0.0f);
      if (s.stride == 1) {
        add_shifted_taps(dst, geo.lout, src, s.length, offset, wo);
        continue;
      }
      for (int64_t k = 0; k < s.kernel_size; ++k) {
        int64_t off, t0, t1;
        geo.valid_range(k, off, t0, t1);
        for (int64_t t = t0; t < t1; ++t) dst[t] += wo[k] * src[t * s.stride + off];
      }
    }
  });
  add_padding_products(geo, w, y);
}

void depthwise_backward(const Geometry& geo, const float* x, const float* w, const float* dy, float* dx, float* dw) {
  const Conv1dShape& s = geo.s;
  if (dx) {  // dx row (n, c) gathers the taps of the og output channels of group c
    const std::vector<int64_t> offset = tap_offsets(s, -1);
    parallel_for(s.batch * s.in_channels, row_grain(geo.lout, geo.og * s.kernel_size), [&](int64_t begin,
                                                                                           int64_t end) {
      for (int64_t row = begin; row < end; ++row) {
        const int64_t n = row / s.in_channels, c = row % s.in_channels;
        float* dst = dx + row * s.length;
        std::fill(dst, dst + s.length, 0.0f);
        for (int64_t o = c * geo.og; o < (c + 1) * geo.og; ++o) {
          const float* grad = dy + (n * s.out_channels + o) * geo.lout;
          const float* wo = w + o * s.kernel_size;
          if (s.stride == 1) {
            add_shifted_taps(dst, s.length, grad, geo.lout, offset, wo);
            continue;
          }
          for (int64_t k = 0; k < s.kernel_size; ++k) {
            int64_t off, t0, t1;
            geo.valid_range(k, off, t0, t1);
            for (int64_t t = t0; t < t1; ++t) dst[t * s.stride + off] += wo[k] * grad[t];
          }
        }
      }
    });
  }
  if (dw) {  // dw row o sums over the batch in order: the same bits for every thread count
    parallel_for(s.out_channels, row_grain(geo.lout, s.batch * s.kernel_size), [&](int64_t begin, int64_t end) {
      for (int64_t o = begin; o < end; ++o) {
        for (int64_t k = 0; k < s.kernel_size; ++k) {
          int64_t offset, t0, t1;
          geo.valid_range(k, offset, t0, t1);
          float total = 0.0f;
          for (int64_t n = 0; n < s.batch; ++n) {
            const float* grad = dy + (n * s.out_channels + o) * geo.lout;
            const float* src = x + (n * s.in_channels + o / geo.og) * s.length + offset;
            total += strided_dot(grad + t0, src + t0 * s.stride, t1 - t0, s.stride);
            for (int64_t t = 0; t < t0; ++t) total += grad[t] * 0.0f;  // taps in the padding: x = 0, so only a
            for (int64_t t = t1; t < geo.lout; ++t) total += grad[t] * 0.0f;  // non-finite dy changes the sum
          }
          dw[o * s.kernel_size + k] = total;
        }
      }
    });
  }
}

}  // namespace

void conv1d_forward(float* y, const float* x, const float* w, const float* b, const Conv1dShape& s) {
  const Geometry geo(s);
  if (geo.depthwise) return depthwise_forward(geo, x, w, b, y);
  const int threads = item_threads(geo);
  for_each_item(s.batch, threads, [&](int64_t n, int t) {
    for (int64_t g = 0; g < s.groups; ++g) {
      const float* cols = geo.x_at(x, n, g);
      if (!geo.cols_is_input) {
        float* columns = thread_scratch(ScratchPurpose::conv1d_columns, geo.ck * geo.lout);
        geo.im2col(cols, columns);
        cols = columns;
      }
      float* y_ng = geo.y_at(y, n, g);
      gemm(y_ng, geo.lout, w + g * geo.og * geo.ck, geo.ck, cols, geo.cols_ld(),
           {geo.og, geo.lout, geo.ck, false, false, 1.0f, 0.0f});
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

void conv1d_backward(float* dx, float* dw, float* db, const float* dy, const float* x, const float* w,
                     const Conv1dShape& s) {
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
  if (geo.depthwise) return depthwise_backward(geo, x, w, dy, dx, dw);
  if (!dx && !dw) return;

  // Thread 0 accumulates dw in place; thread t > 0 into partials[t - 1], each starting with beta = 0.
  const int64_t w_size = s.out_channels * geo.ck;
  const int threads = item_threads(geo);
  std::vector<std::unique_ptr<float[]>> partials;
  if (dw)
    for (int t = 1; t < threads; ++t) partials.push_back(allocate_floats(w_size));
  std::vector<int64_t> first_item(static_cast<size_t>(threads), -1);

  const int64_t cols_size = geo.ck * geo.lout;
  const int used = for_each_item(s.batch, threads, [&](int64_t n, int t) {
    if (first_item[t] < 0) first_item[t] = n;
    float* dw_t = t == 0 ? dw : partials.empty() ? nullptr : partials[t - 1].get();
    for (int64_t g = 0; g < s.groups; ++g) {
      const float* dy_ng = geo.y_at(dy, n, g);
      const float* w_g = w + g * geo.og * geo.ck;
      if (dw) {
        const float* cols = geo.x_at(x, n, g);
        if (!geo.cols_is_input) {
          float* columns = thread_scratch(ScratchPurpose::conv1d_columns, cols_size);
          geo.im2col(cols, columns);
          cols = columns;
        }
        gemm(dw_t + g * geo.og * geo.ck, geo.ck, dy_ng, geo.lout, cols, geo.cols_ld(),
             {geo.og, geo.ck, geo.lout, false, true, 1.0f, first_item[t] == n ? 0.0f : 1.0f});
      }
      if (dx) {
        float* dx_ng = geo.x_at(dx, n, g);
        float* dcols = geo.cols_is_input ? dx_ng : thread_scratch(ScratchPurpose::conv1d_column_grads, cols_size);
        gemm(dcols, geo.cols_ld(), w_g, geo.ck, dy_ng, geo.lout, {geo.ck, geo.lout, geo.og, true, false, 1.0f, 0.0f});
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
