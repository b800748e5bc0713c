# `make layer-check`: shows that the build refuses a call up the layers. In a copy of the tree
# (the files git tracks or would track) under build/layer-check/, built with the debug preset:
#   1. unchanged, the util layer and its link check build;
#   2. util/layer_probe.c includes a store header and calls store_close(): the build must fail
#      on util's include check;
#   3. the same call with a hand-written prototype instead of the include: the build must fail
#      on util's link check, with store_close undefined.
# Any other outcome fails. Invoked from the top of the tree as: cmake -P cmake/layer_probe.cmake
cmake_minimum_required(VERSION 3.25)

get_filename_component(top "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)
set(copy "${top}/build/layer-check")
set(target railhook_util_link_check)
set(probe "${copy}/util/layer_probe.c")

# build(<result var> <output var>): builds the util layer's link check in the copy.
function(build result output)
    execute_process(
        COMMAND ${CMAKE_COMMAND} --preset debug -DRAILHOOK_TESTS=OFF
        WORKING_DIRECTORY "${copy}" RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
    if(rc EQUAL 0)
        execute_process(
            COMMAND ${CMAKE_COMMAND} --build --preset debug --target ${target}
            WORKING_DIRECTORY "${copy}" RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
    endif()
    set(${result} ${rc} PARENT_SCOPE)
    set(${output} "${out}" PARENT_SCOPE)
endfunction()

message(STATUS "layer-check: copying the tree to ${copy}")
file(REMOVE_RECURSE "${copy}")
execute_process(
    COMMAND git ls-files --cached --others --exclude-standard
    WORKING_DIRECTORY "${top}" OUTPUT_VARIABLE files RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
    message(FATAL_ERROR "layer-check: git ls-files failed")
endif()
string(REPLACE "\n" ";" files "${files}")
foreach(file IN LISTS files)
    if(file AND EXISTS "${top}/${file}" AND NOT IS_DIRECTORY "${top}/${file}")
        get_filename_component(dir "${copy}/${file}" DIRECTORY)
        file(COPY "${top}/${file}" DESTINATION "${dir}")
    endif()
endforeach()

message(STATUS "layer-check: the unchanged util layer builds")
build(rc out)
if(NOT rc EQUAL 0)
    message(FATAL_ERROR "layer-check: the unchanged copy does not build:\n${out}")
endif()

message(STATUS "layer-check: util including store/store.h and calling store_close()")
file(WRITE "${probe}" "/* A deliberate call up the layers: util may not use store. */
#include \"store/store.h\"

void util_layer_probe(void);

void util_layer_probe(void)
{
    store_close(NULL);
}
")
build(rc out)
if(rc EQUAL 0)
    message(FATAL_ERROR "layer-check: the upward include was built")
elseif(NOT out MATCHES "layer util may use" OR
       NOT out MATCHES "util/layer_probe.c: #include \"store/store.h\" \\(layer store\\)")
    message(FATAL_ERROR "layer-check: the build failed, but not on the include check:\n${out}")
endif()
string(REGEX MATCH "[^\n]*util/layer_probe.c: #include[^\n]*" line "${out}")
string(STRIP "${line}" line)
message(STATUS "layer-check: refused by the include check: ${line}")

message(STATUS "layer-check: the same call without the include")
file(WRITE "${probe}" "/* A deliberate call up the layers: util may not use store. */
#include <stddef.h>

struct store;
void store_close(struct store *s);
void util_layer_probe(void);

void util_layer_probe(void)
{
    store_close(NULL);
}
")
build(rc out)
if(rc EQUAL 0)
    message(FATAL_ERROR "layer-check: the upward call was linked")
elseif(NOT out MATCHES "undefined (reference to|symbol:) .?store_close")
    message(FATAL_ERROR "layer-check: the build failed, but not on the link check:\n${out}")
endif()
string(REGEX MATCH "[^\n]*undefined (reference to|symbol:) .?store_close[^\n]*" line "${out}")
string(STRIP "${line}" line)
message(STATUS "layer-check: refused by the link check: ${line}")
message(STATUS "layer-check: passed")
