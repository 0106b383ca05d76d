# The build of record for the kfd-svm addon (node-gyp; prebuildify drives it for prebuilds/).
# native/CMakeLists.txt builds the same native/sources.json with cmake-js.
{
  "targets": [
    {
      "target_name": "kfd_svm",
      "conditions": [
        ["OS=='linux'", {
          "sources": [
            "<!@(node -p \"require('./native/sources.json').map(function (f) { return 'native/' + f }).join(' ')\")"
          ],
          "dependencies": [
            "<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"
          ],
          "include_dirs": ["native"],
          "defines": [
            "NAPI_VERSION=8",
            "NODE_ADDON_API_DISABLE_DEPRECATED",
            "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS",
            "KFD_SVM_BUILD_SYSTEM=\"node-gyp\"",
            "KFD_SVM_SOURCE_HASH=\"<!(node native/source-hash.mjs)\""
          ],
          "cflags_cc": ["-std=c++17", "-fvisibility=hidden", "-Wall", "-Wextra"]
        }, {
          # No KFD outside Linux: nothing to build; the package still installs and the simulator works.
          "type": "none"
        }]
      ]
    }
  ]
}
