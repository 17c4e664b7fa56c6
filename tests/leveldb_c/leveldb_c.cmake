# LevelDB C API compatibility (include/leveldb/c.h, src/leveldb/).
#
# c_test.c is built twice with the same expectations: against Strata's
# libstrata-leveldb (c_api.strata) and, when it is installed, against
# LevelDB itself (c_api.leveldb), so every check is known to hold for real
# LevelDB. Included from tests/CMakeLists.txt.
set(LEVELDB_C_DIR ${CMAKE_CURRENT_LIST_DIR})

if(TARGET strata_leveldb)
  # Strata: <leveldb/c.h> comes from Strata's include/ (the library's
  # public include directory).
  add_executable(c_api_strata ${LEVELDB_C_DIR}/c_test.c)
  target_link_libraries(c_api_strata PRIVATE strata_leveldb)
  add_test(NAME c_api.strata COMMAND c_api_strata)
  set_tests_properties(c_api.strata PROPERTIES
                       ENVIRONMENT "TEST_TMPDIR=${CMAKE_CURRENT_BINARY_DIR}/c_api.strata.tmp")

  # What Strata's version does beyond LevelDB's (NULL arguments, zstd).
  add_executable(c_api_strata_extras ${LEVELDB_C_DIR}/c_extras_test.c)
  target_link_libraries(c_api_strata_extras PRIVATE strata_leveldb)
  add_test(NAME c_api.strata_extras COMMAND c_api_strata_extras)
  set_tests_properties(c_api.strata_extras PROPERTIES
                       ENVIRONMENT "TEST_TMPDIR=${CMAKE_CURRENT_BINARY_DIR}/c_api.extras.tmp")

  # The shared library exports exactly LevelDB's 68 C functions.
  add_test(NAME c_api.exports
           COMMAND ${CMAKE_COMMAND} -DLIB=$<TARGET_FILE:strata_leveldb>
                   -DHEADER=${PROJECT_SOURCE_DIR}/include/leveldb/c.h
                   -P ${LEVELDB_C_DIR}/check_exports.cmake)

  # Installed use: stage an install, then build c_test.c the way a client
  # would -- cc plus pkg-config flags -- against the shared and the static
  # library. A plain cc cannot link sanitizer-instrumented libraries, so
  # this is left to the plain build.
  if(NOT STRATA_SANITIZE)
    add_test(NAME c_api.installed
             COMMAND ${CMAKE_COMMAND} -DBUILD_DIR=${PROJECT_BINARY_DIR}
                     -DPREFIX=${CMAKE_CURRENT_BINARY_DIR}/c_api.install
                     -DLIBDIR=${CMAKE_INSTALL_LIBDIR} -DCC=${CMAKE_C_COMPILER}
                     -DSOURCE=${LEVELDB_C_DIR}/c_test.c
                     -P ${LEVELDB_C_DIR}/check_installed.cmake)
  endif()
endif()

# LevelDB: its own header from the system include path, its own library.
find_library(LEVELDB_LIB leveldb)
if(LEVELDB_LIB)
  add_executable(c_api_leveldb ${LEVELDB_C_DIR}/c_test.c)
  target_link_libraries(c_api_leveldb PRIVATE ${LEVELDB_LIB})
  add_test(NAME c_api.leveldb COMMAND c_api_leveldb)
  set_tests_properties(c_api.leveldb PROPERTIES
                       ENVIRONMENT "TEST_TMPDIR=${CMAKE_CURRENT_BINARY_DIR}/c_api.leveldb.tmp")
endif()
