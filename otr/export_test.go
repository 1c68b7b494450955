package otr

// WeechatCut is weechatCut for the interop tests (package otr_test).
var WeechatCut = weechatCut
