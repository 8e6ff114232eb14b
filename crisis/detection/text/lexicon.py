"""Hostility and friendliness lexicons, English and CJK.

Deliberately short and generic (insults and dismissals every moderator knows, nothing
specific to one community); a community adds its own terms in its detector settings
(`hostile_terms`, `friendly_terms`). Friendly markers cancel banter such as "you idiot lol"
or "你个傻子哈哈".

English entries are whole words (or phrases matched as substrings of the lowercased text).
CJK entries are substrings, since those scripts have no spaces; entries are regular
expressions so that a few everyday compounds are not counted (垃圾桶 "dustbin", 滚动
"scroll" and 笑死 "dying of laughter" are not insults).
"""
from __future__ import annotations

HOSTILE_WORDS = frozenset("""idiot idiots idiotic stupid stupidity moron morons moronic dumb dumbest
trash garbage clown clowns pathetic liar liars lying lies hypocrite hypocrisy loser losers
ridiculous shut wrong nobody asked stfu gtfo fool fools foolish jerk scum disgusting worthless
useless hate hateful troll trolling toxic coward cowards cringe shameful incompetent clueless
ignorant delusional braindead nonsense absurd embarrassing joke laughable bs bullshit crap
damn wtf screw pig rat creep freak weirdo shameless""".split())
HOSTILE_PHRASES = ("shut up", "grow up", "nobody asked", "get lost", "who asked", "go away",
                   "screw you", "you're wrong", "you are wrong", "how dare", "get a life")
FRIENDLY_WORDS = frozenset("""lol haha hahaha lmao thanks thank love awesome nice great agree totally
exactly yes same friend cool glad""".split())

# Chinese (simplified and traditional), Japanese, Korean. Regular expressions.
HOSTILE_CJK = (
    # zh: insults
    "傻[逼屄比b叉x]", "煞笔", "沙比", "傻子", "傻瓜", "白痴", "弱智", "脑残", "智障", "蠢货", "蠢猪", "真蠢", "愚蠢",
    "笨蛋", "废物", "人渣", "败类", "混蛋", "王八蛋", "贱人", "贱货", "婊子", "狗东西", "狗屎", "狗日", "畜生",
    "神经病", "有病", "垃圾(?!桶|分类|袋|站|车|场|邮件|短信|回收|处理|清理|食品)", "去死", "死全家", "你妈", "尼玛",
    "他妈的", "tmd", "操你", "草泥马", "滚(?!动|轮|筒|烫|圆|雪球|石|蛋糕|床单)", "恶心", "丢人", "无耻", "不要脸",
    "骗子", "撒谎", "胡说", "放屁", "闭嘴", "少废话", "关你屁事", "你懂个屁", "菜鸡", "low逼", "装逼", "喷子",
    "键盘侠", "可耻", "荒谬", "可笑", "小丑",
    # zh traditional forms where they differ
    "廢物", "腦殘", "白癡", "蠢貨", "混蛋", "賤人", "騙子", "噁心", "閉嘴", "無恥", "神經病",
    # ja
    "バカ", "ばか", "馬鹿", "アホ", "あほ", "死ね", "しね", "うざい", "ウザい", "うぜえ", "黙れ", "だまれ", "クソ",
    "くそ", "消えろ", "きえろ", "キモい", "きもい", "カス", "ゴミ", "ブス", "クズ",
    # ko
    "바보", "멍청", "닥쳐", "꺼져", "병신", "씨발", "시발", "ㅅㅂ", "개새끼", "미친놈", "미친년", "쓰레기", "찌질",
    "한심", "븅신",
)
FRIENDLY_CJK = (
    "哈哈", "呵呵", "嘿嘿", "谢谢", "感谢", "謝謝", "多谢", "笑死", "开玩笑", "開玩笑", "赞", "讚", "同意", "好的",
    "辛苦", "爱你", "喜欢", "厉害", "牛逼", "太棒",
    "ありがとう", "www", "すごい", "いいね",
    "ㅋㅋ", "ㅎㅎ", "감사", "고마워", "좋아", "최고",
    # emoji laughter and affection: the same in every language
    "😂", "🤣", "😆", "😄", "😁", "😊", "❤", "👍", "🥰", "😘",
)
