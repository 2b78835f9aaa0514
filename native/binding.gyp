# The addon's build. One error policy for the whole binding: C++ exceptions (NAPI_CPP_EXCEPTIONS),
# each converted into a typed JavaScript error in one place (src/binding/errors.h). NAPI_VERSION pinned;
# symbols hidden; deprecated N-API disabled.
{
  "targets": [
    {
      "target_name": "rewind_native",
      "sources": [
        "src/core/chrome_sink.cc",
        "src/core/ctf_sink.cc",
        "src/core/device.cc",
        "src/core/event_table.cc",
        "src/core/merge.cc",
        "src/core/merge_files.cc",
        "src/core/metadata.cc",
        "src/core/name_stats.cc",
        "src/core/names.cc",
        "src/core/output.cc",
        "src/core/pod_names.cc",
        "src/core/stream_decoder.cc",
        "src/core/synth.cc",
        "src/core/trace_dir.cc",
        "src/core/version.cc",
        "src/core/writer.cc",
        "src/binding/device.cc",
        "src/binding/errors.cc",
        "src/binding/trace.cc",
        "src/binding.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "src", "../kmod/include"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_API_NO_EXTERNAL_BUFFERS_ALLOWED", "NAPI_DISABLE_DEPRECATED"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++14", "-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-fvisibility=hidden", "-Wall", "-Wextra", "-O2"],
      "cflags": ["-fvisibility=hidden"]
    }
  ]
}
