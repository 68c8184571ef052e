# plugins/messages/deps.cmake - included by the top CMakeLists.txt while it defines
# plugin_messages. media_meta.c (the image and audio/video code) is a module of its own,
# <plugins>/messages-media.so, that media.c loads on the first media message: libavformat
# and libavcodec bring about 140 shared libraries with them (Debian builds them with every
# codec), about 19 MB of resident pages that a server sending no media should not carry.
# Its libraries: Debian libjpeg62-turbo-dev, libpng-dev, libwebp-dev, libavformat-dev,
# libavcodec-dev, libswscale-dev, libavutil-dev (scripts/deps.sh installs them); the
# server never links them. tests/unit/test_plugin_media.c compiles media_meta.c in and
# gets the same libraries once its target exists (deferred to the end of the top file).
pkg_check_modules(MESSAGES_MEDIA REQUIRED IMPORTED_TARGET libjpeg libpng libwebp libwebpdemux
                  libavformat libavcodec libswscale libavutil)
get_target_property(_miaw_msg_srcs plugin_messages SOURCES)
list(FILTER _miaw_msg_srcs EXCLUDE REGEX "/media_meta\\.c$")
set_property(TARGET plugin_messages PROPERTY SOURCES ${_miaw_msg_srcs})
target_link_libraries(plugin_messages PRIVATE pthread ${CMAKE_DL_LIBS})
add_library(plugin_messages_media MODULE ${CMAKE_SOURCE_DIR}/plugins/messages/media_meta.c)
set_target_properties(plugin_messages_media PROPERTIES PREFIX "" OUTPUT_NAME messages-media
  LIBRARY_OUTPUT_DIRECTORY ${MIAW_PLUGIN_OUT} C_VISIBILITY_PRESET hidden)
target_include_directories(plugin_messages_media PRIVATE ${CMAKE_SOURCE_DIR}/sdk/include)
target_link_libraries(plugin_messages_media PRIVATE PkgConfig::MESSAGES_MEDIA m)
add_dependencies(plugin_messages plugin_messages_media)
install(TARGETS plugin_messages_media LIBRARY DESTINATION ${MIAW_PLUGIN_INSTALL_DIR})
function(miaw_messages_media_test)
  if(TARGET test_plugin_media)
    target_link_libraries(test_plugin_media PRIVATE PkgConfig::MESSAGES_MEDIA m pthread)
    add_dependencies(test_plugin_media plugin_messages)
  endif()
endfunction()
cmake_language(DEFER DIRECTORY ${CMAKE_SOURCE_DIR} CALL miaw_messages_media_test)
