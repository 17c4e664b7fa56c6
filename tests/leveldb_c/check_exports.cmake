# cmake -DLIB=<libstrata-leveldb.so> -DHEADER=<include/leveldb/c.h> -P check_exports.cmake
# Fails unless the shared library's exported functions are exactly the
# leveldb_* functions the header declares.
execute_process(COMMAND nm -D --defined-only ${LIB} OUTPUT_VARIABLE nm_out RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "nm failed on ${LIB}")
endif()
string(REGEX MATCHALL "[0-9a-fA-F]+ [A-Za-z] [^\n]+" lines "${nm_out}")
set(exported "")
foreach(line ${lines})
  string(REGEX REPLACE "^[0-9a-fA-F]+ [A-Za-z] " "" sym "${line}")
  # The version-node marker the version script adds is not a function.
  if(NOT sym MATCHES "^[A-Z_0-9.]+$")
    list(APPEND exported ${sym})
  endif()
endforeach()

file(READ ${HEADER} header)
string(REGEX MATCHALL "leveldb_[a-z_]+\\(" declared "${header}")
string(REPLACE "(" "" declared "${declared}")
list(REMOVE_DUPLICATES declared)

list(SORT exported)
list(SORT declared)
if(NOT exported STREQUAL declared)
  set(extra ${exported})
  list(REMOVE_ITEM extra ${declared})
  set(missing ${declared})
  list(REMOVE_ITEM missing ${exported})
  message(FATAL_ERROR "exports differ from leveldb/c.h\n  not declared: ${extra}\n  missing: ${missing}")
endif()
list(LENGTH exported n)
message(STATUS "${n} leveldb_* functions exported, nothing else")
