# Builds one layering probe (cmake -P, from ctest) and checks the outcome: EXPECT=compiles needs
# a clean build; EXPECT=fails needs a failed build whose output names HEADER as not found, so a
# probe broken for any other reason does not pass.
execute_process(COMMAND ${CMAKE_COMMAND} --build ${BUILD_DIR} --target ${TARGET}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(EXPECT STREQUAL "compiles")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${TARGET} should compile (its layer sees ${HEADER}):\n${out}")
  endif()
else()
  if(rc EQUAL 0)
    message(FATAL_ERROR "${TARGET} compiled, but its layer must not see ${HEADER}")
  endif()
  string(FIND "${out}" "${HEADER}" named)
  string(REGEX MATCH "No such file or directory|file not found" missing "${out}")
  if(named EQUAL -1 OR NOT missing)
    message(FATAL_ERROR "${TARGET} failed, but not for a missing ${HEADER}:\n${out}")
  endif()
  message(STATUS "${TARGET}: ${HEADER} not found, as it must be")
endif()
