# Fuzz targets for the parsers of every input format (tests/*/fuzz/*.cpp, each defining only
# LLVMFuzzerTestOneInput).
#
# TRAINER_FUZZ=ON (clang only) instruments the whole build for libFuzzer with ASan and UBSan,
# the libraries included, so that the fuzzer sees coverage and the sanitizers see memory errors
# inside the parsers and not only in the fuzz targets; scripts/ci/fuzz.sh makes such a build in
# build-fuzz/ and runs every target.
option(TRAINER_FUZZ "Instrument everything for libFuzzer + ASan + UBSan and build the fuzzers (clang only)" OFF)
if(TRAINER_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang" OR NOT CMAKE_C_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "TRAINER_FUZZ needs clang: CC=clang CXX=clang++ cmake ... -DTRAINER_FUZZ=ON")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()

# trainer_add_fuzz_target(NAME SOURCE file LIBS libs... CORPUS dirs... [LAYER layer])
#   CORPUS: the folders of inputs to replay: the corpus libFuzzer grew (minimised; files named by
#   their SHA-1) and the seeds (hand-made and real files, kept by name, never minimised: each
#   says what it tries, a finding's input among them).
#   LAYER defaults to the name of the calling tests/ folder.
#   Always: <layer>_NAME_replay, the target with tests/fuzz_replay_main.cpp, and the CTest test
#   <layer>.fuzz.NAME_corpus_replay that runs it on every file of CORPUS, so that every build's
#   ctest (CI's GCC build included) replays the committed corpora.
#   With TRAINER_FUZZ: <layer>_NAME_fuzz, the libFuzzer binary.
function(trainer_add_fuzz_target name)
  cmake_parse_arguments(ARG "" "SOURCE;LAYER" "LIBS;CORPUS" ${ARGN})
  if(NOT ARG_SOURCE OR NOT ARG_CORPUS)
    message(FATAL_ERROR "trainer_add_fuzz_target(${name}): SOURCE and CORPUS are required")
  endif()
  if(NOT ARG_LAYER)
    get_filename_component(ARG_LAYER ${CMAKE_CURRENT_SOURCE_DIR} NAME)
  endif()
  set(corpus "")
  foreach(dir ${ARG_CORPUS})
    get_filename_component(dir ${dir} ABSOLUTE BASE_DIR ${CMAKE_CURRENT_SOURCE_DIR})
    list(APPEND corpus ${dir})
  endforeach()
  set(target ${ARG_LAYER}_${name})

  add_executable(${target}_replay ${ARG_SOURCE} ${PROJECT_SOURCE_DIR}/tests/fuzz_replay_main.cpp)
  target_link_libraries(${target}_replay PRIVATE ${ARG_LIBS} trainer_options)
  add_test(NAME ${ARG_LAYER}.fuzz.${name}_corpus_replay COMMAND ${target}_replay ${corpus})
  set_tests_properties(${ARG_LAYER}.fuzz.${name}_corpus_replay PROPERTIES TIMEOUT 600)

  if(TRAINER_FUZZ)
    add_executable(${target}_fuzz ${ARG_SOURCE})
    target_link_libraries(${target}_fuzz PRIVATE ${ARG_LIBS} trainer_options)
    target_link_options(${target}_fuzz PRIVATE -fsanitize=fuzzer)
  endif()
endfunction()
