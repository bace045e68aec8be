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
// The window path (groups 1, stride 1, dilation 1, K >= 2: text CNNs, Keras' Conv1D) needs no im2col. In
// channels-last memory Xc (positions x channels, padding as zero rows, Lp = L + pad_left + pad_right rows per
// item), output t reads the K*C contiguous floats of rows t .. t+K-1, so the im2col matrix is Xc itself read
// as overlapping rows (row stride C, row length K*C). Items are stacked, so forward and dx are one GEMM each
// over the whole batch; rows whose window straddles two items are computed and dropped. With
// Wr[o, k*C + c] = w[o, c, k]:
//   forward  Yc[n*Lp + t, o] = sum_{k,c} Xc[n*Lp + t + k, c] Wr[o, k*C + c]      (Yc = windows(Xc) @ Wr^T)
//            y[n, o, t] = Yc[n*Lp + t, o] + b[o]
//   dx       dYc: dy channels-last with K-1 zero rows on both sides of each item (pitch P = Lp + K - 1),
//            Wf[k*O + o, c] = w[o, c, K-1-k]:  dXc = windows(dYc) @ Wf,  dx[n, c, l] = dXc[n*P + pad_left + l, c]
//   dw       per item, dWr += dy[n] @ windows(Xc[n])   (O x Lout by Lout x K*C),  dw[o, c, k] = dWr[o, k*C + c]
// The zero rows of dYc meet every weight; where one is not finite (w * 0 = NaN would reach dx entries it does
// not enter), dx takes the im2col path, whose col2im adds only the taps that exist.
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
#include <stdexcept>
#include <vector>

#include "seqkernels/checked_math.h"
#include "seqkernels/gemm.h"
#include "seqkernels/parallel.h"
#include "scratch.h"
#include "simd.h"
#include "transpose.h"

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

// A weight-shaped gradient summed over batch items by the parts of for_each_item: part 0 sums into `out`
// itself, part t > 0 into a buffer of its own; a part's first item overwrites (beta 0), later ones add (beta 1);
// reduce() then adds the parts to `out` in part order, so the result is deterministic for a given thread count.
class ItemSums {
 public:
  ItemSums(float* out, int64_t size, int parts) : out_(out), size_(size), first_(static_cast<size_t>(parts), -1) {
    if (out)
      for (int t = 1; t < parts; ++t) partials_.push_back(allocate_floats(size));
  }
  float* part(int t) const { return t == 0 ? out_ : partials_[t - 1].get(); }
  float beta(int t, int64_t n) {  // called once per item, in the part's item order
    if (first_[t] < 0) first_[t] = n;
    return first_[t] == n ? 0.0f : 1.0f;
  }
  void reduce(int used) {
    if (!out_ || used <= 1) return;
    parallel_for(size_, 4096, [&](int64_t begin, int64_t end) {
      for (int t = 1; t < used; ++t) {
        const float* p = partials_[t - 1].get();
        for (int64_t i = begin; i < end; ++i) out_[i] += p[i];
      }
    });
  }

 private:
  float* out_;
  int64_t size_;
  std::vector<int64_t> first_;
  std::vector<std::unique_ptr<float[]>> partials_;
};

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

// acc[0..n) += row[0..n)
void add_row(float* acc, const float* row, int64_t n) {
  int64_t i = 0;
  for (; i + V::W <= n; i += V::W) V::storeu(acc + i, V::add(V::loadu(acc + i), V::loadu(row + i)));
  for (; i < n; ++i) acc[i] += row[i];
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

// ---- the window path (header comment) ----

void require_channels_first_unless_windowed(const Conv1dShape& s) {
  if ((s.input_channels_last || s.output_channels_last) && !conv1d_window_path(s))
    throw std::invalid_argument("conv1d: channels-last layouts need groups 1, stride 1, dilation 1 and kernel_size >= 2");
}

// Element strides of a (batch, channels, positions) array stored channels first or channels last.
struct Strides {
  int64_t item, channel, position;
};
Strides strides_of(int64_t channels, int64_t length, bool channels_last) {
  return channels_last ? Strides{length * channels, 1, channels} : Strides{channels * length, length, 1};
}

bool all_finite(const float* p, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    if (!std::isfinite(p[i])) return false;
  return true;
}

// The channels-last stack: item n at rows [n * pitch, (n + 1) * pitch) of `channels` floats: `before` zero rows,
// the item's `length` positions (from src in either layout), zero rows up to the pitch.
void stack_items(float* stack, int64_t pitch, int64_t before, const float* src, bool src_channels_last, int64_t batch,
                 int64_t channels, int64_t length) {
  parallel_for(batch, 1, [&](int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; ++n) {
      float* item = stack + n * pitch * channels;
      const float* from = src + n * channels * length;
      std::fill(item, item + before * channels, 0.0f);
      if (src_channels_last) {
        std::memcpy(item + before * channels, from, sizeof(float) * channels * length);
      } else {
        transpose(item + before * channels, channels, from, length, channels, length);
      }
      std::fill(item + (before + length) * channels, item + pitch * channels, 0.0f);
    }
  });
}

// A GEMM result over the stack, rows r = n * pitch + first + p (p < length) of `channels` values, stored
// row-major (rows x channels) when channels_last, else transposed (channels x rows, ld = rows), copied out to
// dst (batch, channels, length) in the same layout: whole runs of floats either way.
void unstack_items(float* dst, const float* result, bool channels_last, int64_t rows, int64_t pitch, int64_t first,
                   int64_t batch, int64_t channels, int64_t length) {
  parallel_for(batch, 1, [&](int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; ++n) {
      float* item = dst + n * channels * length;
      const int64_t r0 = n * pitch + first;
      if (channels_last) {
        std::memcpy(item, result + r0 * channels, sizeof(float) * channels * length);
      } else {
        for (int64_t c = 0; c < channels; ++c)
          std::memcpy(item + c * length, result + c * rows + r0, sizeof(float) * length);
      }
    }
  });
}

// Wr[o, k*C + c] = w[o, c, k] (flip == false) or Wf[k*O + o, c] = w[o, c, K-1-k] (flip == true).
std::vector<float> window_weights(const Conv1dShape& s, const float* w, bool flip) {
  const int64_t O = s.out_channels, C = s.in_channels, K = s.kernel_size;
  std::vector<float> out(static_cast<size_t>(O * C * K));
  for (int64_t o = 0; o < O; ++o)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t k = 0; k < K; ++k) {
        const float v = w[(o * C + c) * K + k];
        if (flip) {
          out[((K - 1 - k) * O + o) * C + c] = v;
        } else {
          out[o * K * C + k * C + c] = v;
        }
      }
  return out;
}

// x in place as the stack when it already is one (channels last, no padding), else stacked into scratch.
const float* input_stack(const Conv1dShape& s, const float* x) {
  if (s.input_channels_last && s.pad_left == 0 && s.pad_right == 0) return x;
  const int64_t pitch = s.length + s.pad_left + s.pad_right;
  float* xc = thread_scratch(ScratchPurpose::conv1d_windows, s.batch * pitch * s.in_channels);
  stack_items(xc, pitch, s.pad_left, x, s.input_channels_last, s.batch, s.in_channels, s.length);
  return xc;
}

void window_forward(const Geometry& geo, const float* x, const float* w, const float* b, float* y) {
  const Conv1dShape& s = geo.s;
  const int64_t C = s.in_channels, O = s.out_channels, K = s.kernel_size, lout = geo.lout;
  const int64_t pitch = s.length + s.pad_left + s.pad_right, rows = s.batch * pitch - K + 1;
  const float* xc = input_stack(s, x);
  const std::vector<float> wr = window_weights(s, w, false);
  // Yc = windows(Xc) Wr^T, computed as Yc itself (rows x O) or as Yc^T (O x rows), whichever y's layout copies
  // out in whole runs.
  float* yc = thread_scratch(ScratchPurpose::conv1d_window_products, rows * O);
  if (s.output_channels_last) {
    gemm(yc, O, xc, C, wr.data(), K * C, {rows, O, K * C, false, true, 1.0f, 0.0f});
  } else {
    gemm(yc, rows, wr.data(), K * C, xc, C, {O, rows, K * C, false, true, 1.0f, 0.0f});
  }
  unstack_items(y, yc, s.output_channels_last, rows, pitch, 0, s.batch, O, lout);
  if (!b) return;
  const Strides ys = strides_of(O, lout, s.output_channels_last);
  parallel_for(s.batch, 1, [&](int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; ++n)
      for (int64_t o = 0; o < O; ++o)
        for (int64_t t = 0; t < lout; ++t) y[n * ys.item + o * ys.channel + t * ys.position] += b[o];
  });
}

// dX = windows(dYc) Wf also multiplies the zero rows around each item by every weight; with a non-finite weight
// that puts w * 0 = NaN into dx entries the gradient has no such term for. Then the rows whose window meets
// those zeros (the first and last K - 1 positions of each padded item) are summed again over the taps that exist:
// dx at padded position i = sum_{k, o : 0 <= i - k < L_out} w[o, c, k] dy[n, o, i - k].
void exact_dx_edges(const Conv1dShape& s, const float* w, const float* dy, float* result, bool result_channels_last,
                    int64_t rows, int64_t pitch) {
  const int64_t C = s.in_channels, O = s.out_channels, K = s.kernel_size, lout = s.out_length();
  const int64_t padded = s.length + s.pad_left + s.pad_right;
  const Strides ds = strides_of(O, lout, s.output_channels_last);
  for (int64_t n = 0; n < s.batch; ++n)
    for (int64_t i = 0; i < padded; ++i) {
      if (i >= K - 1 && i < lout) continue;  // every tap of this row is inside dy
      const int64_t r = n * pitch + i;
      for (int64_t c = 0; c < C; ++c) {
        float total = 0.0f;
        for (int64_t k = 0; k < K; ++k) {
          if (i - k < 0 || i - k >= lout) continue;
          for (int64_t o = 0; o < O; ++o)
            total += w[(o * C + c) * K + k] * dy[n * ds.item + o * ds.channel + (i - k) * ds.position];
        }
        result[result_channels_last ? r * C + c : c * rows + r] = total;
      }
    }
}

// dx and/or dw (each may be null) on the window path.
void window_backward(const Geometry& geo, const float* x, const float* w, const float* dy, float* dx, float* dw) {
  const Conv1dShape& s = geo.s;
  const int64_t C = s.in_channels, O = s.out_channels, K = s.kernel_size, lout = geo.lout;
  if (dx) {
    const int64_t pitch = s.length + s.pad_left + s.pad_right + K - 1, rows = s.batch * pitch - K + 1;
    float* dyc = thread_scratch(ScratchPurpose::conv1d_window_grads, s.batch * pitch * O);
    stack_items(dyc, pitch, K - 1, dy, s.output_channels_last, s.batch, O, lout);
    const std::vector<float> wf = window_weights(s, w, true);
    float* dxc = thread_scratch(ScratchPurpose::conv1d_window_products, rows * C);
    if (s.input_channels_last) {
      gemm(dxc, C, dyc, O, wf.data(), C, {rows, C, K * O, false, false, 1.0f, 0.0f});
    } else {
      gemm(dxc, rows, wf.data(), C, dyc, O, {C, rows, K * O, true, true, 1.0f, 0.0f});
    }
    if (!all_finite(w, O * C * K)) exact_dx_edges(s, w, dy, dxc, s.input_channels_last, rows, pitch);
    unstack_items(dx, dxc, s.input_channels_last, rows, pitch, s.pad_left, s.batch, C, s.length);
  }
  if (!dw) return;
  const int64_t pitch = s.length + s.pad_left + s.pad_right, w_size = O * K * C;
  const float* xc = input_stack(s, x);
  std::vector<float> dwr(static_cast<size_t>(w_size));
  const int threads = item_threads(geo);
  ItemSums sums(dwr.data(), w_size, threads);
  // dWr += dy[n] windows(Xc[n]): dy[n] is O x L_out, or stored L_out x O when channels last.
  sums.reduce(for_each_item(s.batch, threads, [&](int64_t n, int t) {
    const bool cl = s.output_channels_last;
    gemm(sums.part(t), K * C, dy + n * O * lout, cl ? O : lout, xc + n * pitch * C, C,
         {O, K * C, lout, cl, false, 1.0f, sums.beta(t, n)});
  }));
  for (int64_t o = 0; o < O; ++o)
    for (int64_t k = 0; k < K; ++k)
      for (int64_t c = 0; c < C; ++c) dw[(o * C + c) * K + k] = dwr[o * K * C + k * C + c];
}

}  // namespace

bool conv1d_window_path(const Conv1dShape& s) {
  return s.groups == 1 && s.stride == 1 && s.dilation == 1 && s.kernel_size >= 2;
}

void conv1d_forward(float* y, const float* x, const float* w, const float* b, const Conv1dShape& s) {
  const Geometry geo(s);
  require_channels_first_unless_windowed(s);
  if (geo.depthwise) return depthwise_forward(geo, x, w, b, y);
  if (conv1d_window_path(s)) return window_forward(geo, x, w, b, y);
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
  require_channels_first_unless_windowed(s);
  if (s.batch == 0) {
    if (dw) std::fill(dw, dw + s.out_channels * geo.ck, 0.0f);
    if (db) std::fill(db, db + s.out_channels, 0.0f);
    return;
  }
  if (db && s.output_channels_last) {  // rows of C_out: add them in order
    std::fill(db, db + s.out_channels, 0.0f);
    for (int64_t r = 0; r < s.batch * geo.lout; ++r) add_row(db, dy + r * s.out_channels, s.out_channels);
  } else if (db) {
    parallel_for(s.out_channels, 16, [&](int64_t begin, int64_t end) {
      for (int64_t o = begin; o < end; ++o) {
        float total = 0.0f;
        for (int64_t n = 0; n < s.batch; ++n) total += sum(dy + (n * s.out_channels + o) * geo.lout, geo.lout);
        db[o] = total;
      }
    });
  }
  if (geo.depthwise) return depthwise_backward(geo, x, w, dy, dx, dw);
  if (conv1d_window_path(s)) return window_backward(geo, x, w, dy, dx, dw);
  if (!dx && !dw) return;

  const int threads = item_threads(geo);
  ItemSums dw_sums(dw, s.out_channels * geo.ck, threads);
  const int64_t cols_size = geo.ck * geo.lout;
  const int used = for_each_item(s.batch, threads, [&](int64_t n, int t) {
    const float beta = dw ? dw_sums.beta(t, n) : 0.0f;
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
        gemm(dw_sums.part(t) + g * geo.og * geo.ck, geo.ck, dy_ng, geo.lout, cols, geo.cols_ld(),
             {geo.og, geo.ck, geo.lout, false, true, 1.0f, beta});
      }
      if (dx) {
        float* dx_ng = geo.x_at(dx, n, g);
        float* dcols = geo.cols_is_input ? dx_ng : thread_scratch(ScratchPurpose::conv1d_column_grads, cols_size);
        gemm(dcols, geo.cols_ld(), w_g, geo.ck, dy_ng, geo.lout, {geo.ck, geo.lout, geo.og, true, false, 1.0f, 0.0f});
        if (!geo.cols_is_input) geo.col2im(dcols, dx_ng);
      }
    }
  });

  dw_sums.reduce(used);
}

}  // namespace sk
