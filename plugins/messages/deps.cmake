# plugins/messages/deps.cmake - included by the top CMakeLists.txt while it defines
# plugin_messages: the image and audio/video libraries media_meta.c uses (Debian
# libjpeg62-turbo-dev, libpng-dev, libwebp-dev, libavformat-dev, libavcodec-dev,
# libswscale-dev, libavutil-dev; scripts/deps.sh installs them). Only this plugin links
# them; the server does not. tests/unit/test_plugin_media.c compiles media_meta.c in and
# gets the same libraries once its target exists (deferred to the end of the top file).
pkg_check_modules(MESSAGES_MEDIA REQUIRED IMPORTED_TARGET libjpeg libpng libwebp libwebpdemux
                  libavformat libavcodec libswscale libavutil)
target_link_libraries(plugin_messages PRIVATE PkgConfig::MESSAGES_MEDIA m pthread)
function(miaw_messages_media_test)
  if(TARGET test_plugin_media)
    target_link_libraries(test_plugin_media PRIVATE PkgConfig::MESSAGES_MEDIA m pthread)
    add_dependencies(test_plugin_media plugin_messages)
  endif()
endfunction()
cmake_language(DEFER DIRECTORY ${CMAKE_SOURCE_DIR} CALL miaw_messages_media_test)
