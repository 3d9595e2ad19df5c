# EL3D_FUZZ: every object of the build is compiled for libFuzzer's coverage feedback with AddressSanitizer and
# UndefinedBehaviorSanitizer (-fsanitize=fuzzer-no-link,...); the fuzz targets in tests/fuzz add libFuzzer itself
# (-fsanitize=fuzzer). Clang only: GCC has no libFuzzer.
if(NOT EL3D_FUZZ)
  return()
endif()
if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang" OR NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "EL3D_FUZZ needs clang: configure with -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ "
                      "(scripts/run-fuzz.sh does)")
endif()
if(NOT "${EL3D_SANITIZE}" MATCHES "^(OFF|off|Off|0|NO|no|FALSE|false|)$")
  message(FATAL_ERROR "EL3D_FUZZ already builds with AddressSanitizer and UndefinedBehaviorSanitizer: drop EL3D_SANITIZE")
endif()
add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
                    -fno-omit-frame-pointer -gline-tables-only
                    -fsanitize-coverage-ignorelist=${CMAKE_CURRENT_LIST_DIR}/fuzz-coverage-ignore.txt)
add_link_options(-fsanitize=address,undefined)
