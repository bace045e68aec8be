// _C.crf_forward / _C.crf_backward / _C.crf_viterbi: the linear-chain CRF of seqkernels/crf.h.
#include <string>

#include "kernel_args.h"
#include "seqkernels/crf.h"

namespace sk::bind {
namespace {

using IndexArray = py::array_t<int64_t, py::array::c_style>;

struct Checked {
  FloatArray emissions, transitions, start, end;
  IndexArray lengths;
  CrfSizes sizes;
};

// emissions (B, T, K) with T, K >= 1, lengths (B) in [1, T], transitions (K, K), start and end (K).
Checked check_model(const char* op, py::handle emissions_obj, py::handle lengths_obj, py::handle transitions_obj,
                    py::handle start_obj, py::handle end_obj) {
  FloatArray emissions = float32_array(emissions_obj, op, "emissions");
  check_ndim(emissions, 3, op, "emissions");
  CrfSizes s{emissions.shape(0), emissions.shape(1), emissions.shape(2)};
  if (s.steps < 1 || s.tags < 1)
    throw py::value_error(std::string(op) + ": argument 'emissions' must be (batch, steps >= 1, tags >= 1), got " +
                          shape_str(emissions));
  IndexArray lengths = index_array(lengths_obj, op, "lengths");
  check_shape(lengths, {s.batch}, op, "lengths");
  for (int64_t b = 0; b < s.batch; ++b)
    if (lengths.data()[b] < 1 || lengths.data()[b] > s.steps)
      throw py::value_error(std::string(op) + ": lengths[" + std::to_string(b) + "] = " +
                            std::to_string(lengths.data()[b]) + " is outside [1, " + std::to_string(s.steps) + "]");
  FloatArray transitions = float32_array(transitions_obj, op, "transitions");
  check_shape(transitions, {s.tags, s.tags}, op, "transitions");
  FloatArray start = float32_array(start_obj, op, "start_transitions");
  check_shape(start, {s.tags}, op, "start_transitions");
  FloatArray end = float32_array(end_obj, op, "end_transitions");
  check_shape(end, {s.tags}, op, "end_transitions");
  return {emissions, transitions, start, end, lengths, s};
}

// tags (B, T) in [0, K) on each sequence's first lengths[b] steps (padding is not read).
IndexArray check_tags(const char* op, py::handle tags_obj, const Checked& in) {
  IndexArray tags = index_array(tags_obj, op, "tags");
  check_shape(tags, {in.sizes.batch, in.sizes.steps}, op, "tags");
  for (int64_t b = 0; b < in.sizes.batch; ++b)
    for (int64_t t = 0; t < in.lengths.data()[b]; ++t) {
      const int64_t y = tags.data()[b * in.sizes.steps + t];
      if (y < 0 || y >= in.sizes.tags)
        throw py::index_error(std::string(op) + ": tag " + std::to_string(y) + " at (" + std::to_string(b) + ", " +
                              std::to_string(t) + ") is out of bounds for " + std::to_string(in.sizes.tags) + " tags");
    }
  return tags;
}

py::tuple forward(py::handle emissions, py::handle tags_obj, py::handle lengths, py::handle transitions,
                  py::handle start, py::handle end) {
  const char* op = "crf_forward";
  Checked in = check_model(op, emissions, lengths, transitions, start, end);
  IndexArray tags = check_tags(op, tags_obj, in);
  const CrfSizes& s = in.sizes;
  FloatArray nll = empty_float32({s.batch}), log_alpha = empty_float32({s.batch, s.steps, s.tags}),
             log_z = empty_float32({s.batch});
  float *np = nll.mutable_data(), *ap = log_alpha.mutable_data(), *zp = log_z.mutable_data();
  {
    py::gil_scoped_release release;
    crf_forward(np, ap, zp, in.emissions.data(), tags.data(), in.lengths.data(), in.transitions.data(),
                in.start.data(), in.end.data(), s);
  }
  return py::make_tuple(nll, log_alpha, log_z);
}

py::tuple backward(py::handle dy_obj, py::handle emissions, py::handle tags_obj, py::handle lengths,
                   py::handle log_alpha_obj, py::handle log_z_obj, py::handle transitions, py::handle start,
                   py::handle end, bool need_emissions, bool need_weights) {
  const char* op = "crf_backward";
  Checked in = check_model(op, emissions, lengths, transitions, start, end);
  IndexArray tags = check_tags(op, tags_obj, in);
  const CrfSizes& s = in.sizes;
  FloatArray dy = float32_array(dy_obj, op, "dy"), log_alpha = float32_array(log_alpha_obj, op, "log_alpha"),
             log_z = float32_array(log_z_obj, op, "log_z");
  check_shape(dy, {s.batch}, op, "dy");
  check_shape(log_alpha, {s.batch, s.steps, s.tags}, op, "log_alpha");
  check_shape(log_z, {s.batch}, op, "log_z");
  py::object d_emissions, d_transitions, d_start, d_end;
  float* de = optional_output(need_emissions, {s.batch, s.steps, s.tags}, d_emissions);
  float* dt = optional_output(need_weights, {s.tags, s.tags}, d_transitions);
  float* ds = optional_output(need_weights, {s.tags}, d_start);
  float* dn = optional_output(need_weights, {s.tags}, d_end);
  {
    py::gil_scoped_release release;
    crf_backward(de, dt, ds, dn, dy.data(), in.emissions.data(), tags.data(), in.lengths.data(), log_alpha.data(),
                 log_z.data(), in.transitions.data(), in.end.data(), s);
  }
  return py::make_tuple(d_emissions, d_transitions, d_start, d_end);
}

py::tuple viterbi(py::handle emissions, py::handle lengths, py::handle transitions, py::handle start,
                  py::handle end) {
  Checked in = check_model("crf_viterbi", emissions, lengths, transitions, start, end);
  const CrfSizes& s = in.sizes;
  IndexArray best({s.batch, s.steps});
  FloatArray score = empty_float32({s.batch});
  int64_t* bp = best.mutable_data();
  float* sp = score.mutable_data();
  {
    py::gil_scoped_release release;
    crf_viterbi(bp, sp, in.emissions.data(), in.lengths.data(), in.transitions.data(), in.start.data(),
                in.end.data(), s);
  }
  return py::make_tuple(best, score);
}

}  // namespace

SK_REGISTER_BINDINGS(crf) {
  m.def("crf_forward", &forward, py::arg("emissions"), py::arg("tags"), py::arg("lengths"), py::arg("transitions"),
        py::arg("start_transitions"), py::arg("end_transitions"),
        "Linear-chain CRF negative log-likelihood per sequence -> (nll (B), log_alpha (B, T, K), log_z (B)).");
  m.def("crf_backward", &backward, py::arg("dy"), py::arg("emissions"), py::arg("tags"), py::arg("lengths"),
        py::arg("log_alpha"), py::arg("log_z"), py::arg("transitions"), py::arg("start_transitions"),
        py::arg("end_transitions"), py::arg("need_emissions") = true, py::arg("need_weights") = true,
        "Gradients of sum_b dy[b] nll[b] -> (d_emissions, d_transitions, d_start, d_end), None where not wanted.");
  m.def("crf_viterbi", &viterbi, py::arg("emissions"), py::arg("lengths"), py::arg("transitions"),
        py::arg("start_transitions"), py::arg("end_transitions"),
        "Most likely tag path per sequence -> (tags (B, T) int64, -1 on padding; score (B)).");
}

}  // namespace sk::bind
