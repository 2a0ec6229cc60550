/* texts.c - the fixed texts in every language, and the choice of language
 * (see texts.h).
 *
 * The translations are short and friendly, as a chat bubble is: Japanese in
 * the polite です/ます form, Chinese in Traditional characters as written in
 * Taiwan. A new fixed text is one row of `builtin` and one case of
 * texts_override. */
#include "core/texts.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include <utf8proc.h>

#include "config.h"
#include "core/alloc.h"

static const char *const builtin[TEXT_COUNT][LANG_COUNT] = {
    [TEXT_NONE] = {"", "", ""},
    [TEXT_HELP] =
        {
            "Commands:\n"
            "/reset - forget this conversation and start over\n"
            "/model - show or switch the model (/model NAME)\n"
            "/persona - show or pick a persona (/persona NAME, /persona set TEXT, /persona reset)\n"
            "/usage - how many tokens you've used today\n"
            "/remember TEXT - remember something about you\n"
            "/memory - show what I remember (/memory off or on to opt out or in)\n"
            "/forget N - forget fact N (/forget all: everything)\n"
            "/files - the documents you sent me (/files clear removes them)\n"
            "/help - show this list\n"
            "In groups, mention me or reply to one of my messages to ask something.",
            "コマンド:\n"
            "/reset - この会話を忘れて、最初からやり直します\n"
            "/model - モデルを表示・切り替えます（/model 名前）\n"
            "/persona - ペルソナを表示・選択します（/persona 名前、/persona set 内容、/persona reset）\n"
            "/usage - 本日のトークン使用量を表示します\n"
            "/remember 内容 - あなたについて覚えておきます\n"
            "/memory - 覚えていることを表示します（/memory off・on で停止・再開）\n"
            "/forget 番号 - その項目を忘れます（/forget all ですべて）\n"
            "/files - 送っていただいた文書を表示します（/files clear で削除）\n"
            "/help - この一覧を表示します\n"
            "グループでは、私をメンションするか、私のメッセージに返信して質問してください。",
            "指令：\n"
            "/reset - 忘記這段對話，重新開始\n"
            "/model - 查看或切換模型（/model 名稱）\n"
            "/persona - 查看或選擇角色（/persona 名稱、/persona set 內容、/persona reset）\n"
            "/usage - 查看今天使用的 token 數量\n"
            "/remember 內容 - 記住關於你的事\n"
            "/memory - 查看我記得的事（/memory off 或 on 可停用或啟用）\n"
            "/forget 編號 - 忘記該項（/forget all：全部忘記）\n"
            "/files - 查看你傳給我的文件（/files clear 可全部刪除）\n"
            "/help - 顯示這份清單\n"
            "在群組裡，請標註我或回覆我的訊息來提問。",
        },
    [TEXT_RESET] =
        {
            "OK, I've forgotten our conversation. Let's start over.",
            "これまでの会話を忘れました。また最初からお話ししましょう。",
            "好的，我已經忘記我們的對話了。重新開始吧！",
        },
    [TEXT_MEDIA] =
        {
            "Sorry, I can only read text for now.",
            "すみません、今はテキストしか読めません。",
            "抱歉，我目前只看得懂文字訊息。",
        },
    [TEXT_APOLOGY] =
        {
            "Sorry, I couldn't come up with an answer just now. Please try again in a moment.",
            "すみません、今はうまくお答えできませんでした。少し時間をおいて、もう一度お試しください。",
            "抱歉，我現在沒辦法回答。請稍後再試一次。",
        },
    [TEXT_SLOW_DOWN] =
        {
            "You're sending messages faster than I can answer. Please wait a minute.",
            "メッセージが多すぎて、お返事が追いつきません。1分ほどお待ちください。",
            "訊息傳得太快了，我來不及回覆。請稍等一分鐘。",
        },
    [TEXT_TRUNCATED] = {"(truncated)", "（長いので、ここで省略します）", "（內容過長，以下省略）"},
    [TEXT_GREETING] = {"", "", ""},
    [TEXT_MODEL_REFUSED] =
        {
            "Sorry, only the group's admins can change the model here.",
            "すみません、ここでモデルを変更できるのはグループの管理者だけです。",
            "抱歉，在這裡只有群組的管理員可以更換模型。",
        },
    [TEXT_MODEL_CURRENT] = {"Current model: {}", "現在のモデル: {}", "目前的模型：{}"},
    [TEXT_MODEL_LIST] = {"Models:", "モデル一覧:", "模型清單："},
    [TEXT_MODEL_HOWTO] =
        {
            "Tap a button or type /model NAME to switch.",
            "ボタンをタップするか、/model 名前 と入力すると切り替えられます。",
            "點選按鈕，或輸入 /model 名稱 即可切換。",
        },
    [TEXT_MODEL_UNKNOWN] = {"I don't know the model \"{}\".", "「{}」というモデルはありません。", "沒有名為「{}」的模型。"},
    [TEXT_MODEL_SWITCHED] =
        {
            "OK, this chat now uses {}.",
            "このチャットのモデルを {} に切り替えました。",
            "好的，這個聊天室現在改用 {}。",
        },
    [TEXT_PERSONA_REFUSED] =
        {
            "Sorry, only the group's admins can change the persona here.",
            "すみません、ここでペルソナを変更できるのはグループの管理者だけです。",
            "抱歉，在這裡只有群組的管理員可以更換角色。",
        },
    [TEXT_PERSONA_CURRENT] = {"Current persona: {}", "現在のペルソナ: {}", "目前的角色：{}"},
    [TEXT_PERSONA_CUSTOM] = {"Current persona (your own): {}", "現在のペルソナ（カスタム）: {}", "目前的角色（自訂）：{}"},
    [TEXT_PERSONA_NONE] =
        {
            "No persona is set: I talk in my default style.",
            "ペルソナは設定されていません（標準の話し方です）。",
            "目前沒有設定角色（使用預設的說話方式）。",
        },
    [TEXT_PERSONA_LIST] = {"Presets:", "プリセット一覧:", "角色清單："},
    [TEXT_PERSONA_HOWTO_PICK] =
        {
            "Tap a button or type /persona NAME to pick one.",
            "ボタンをタップするか、/persona 名前 と入力すると選べます。",
            "點選按鈕，或輸入 /persona 名稱 即可選擇。",
        },
    [TEXT_PERSONA_HOWTO_SET] =
        {
            "Type /persona set TEXT for your own, /persona reset for the default.",
            "/persona set 内容 で自分だけのペルソナを設定、/persona reset で標準に戻せます。",
            "輸入 /persona set 內容 可自訂角色，輸入 /persona reset 可恢復預設。",
        },
    [TEXT_PERSONA_UNKNOWN] =
        {"I don't know the persona \"{}\".", "「{}」というペルソナはありません。", "沒有名為「{}」的角色。"},
    [TEXT_PERSONA_PICKED] =
        {
            "OK, my persona in this chat is now {}.",
            "このチャットのペルソナを {} にしました。",
            "好的，這個聊天室的角色已改為 {}。",
        },
    [TEXT_PERSONA_SET] =
        {
            "OK, I'll use your persona in this chat.",
            "このチャットのペルソナを設定しました。",
            "好的，這個聊天室已改用你自訂的角色。",
        },
    [TEXT_PERSONA_RESET] =
        {
            "OK, back to my default persona.",
            "ペルソナを標準に戻しました。",
            "好的，已恢復預設角色。",
        },
    [TEXT_PERSONA_TOO_LONG] =
        {
            "Sorry, a persona can be at most {} characters.",
            "すみません、ペルソナは{}文字までです。",
            "抱歉，角色設定最多只能 {} 個字。",
        },
    [TEXT_BUDGET_USER] =
        {
            "You've used up today's tokens. Your limit resets at {}.",
            "本日の利用上限に達しました。{} にリセットされます。",
            "你今天的用量已達上限，將在 {} 重置。",
        },
    [TEXT_BUDGET_CHAT] =
        {
            "This chat has used up today's tokens. The limit resets at {}.",
            "このトークは本日の利用上限に達しました。{} にリセットされます。",
            "這個聊天室今天的用量已達上限，將在 {} 重置。",
        },
    [TEXT_BUDGET_CHEAPER] =
        {
            "You can also switch to a cheaper model: {}",
            "より安いモデルに切り替えることもできます: {}",
            "也可以改用較便宜的模型：{}",
        },
    [TEXT_USAGE] =
        {
            "Today you've used {} tokens of your daily {}. It resets at {}.",
            "本日の使用量は {} トークンです（1日の上限: {}）。{} にリセットされます。",
            "你今天已使用 {} 個 token（每日上限 {}），將在 {} 重置。",
        },
    [TEXT_USAGE_UNLIMITED] =
        {
            "Today you've used {} tokens. There's no daily limit.",
            "本日の使用量は {} トークンです。1日の上限はありません。",
            "你今天已使用 {} 個 token，沒有每日上限。",
        },
    [TEXT_CONTENT_EXPIRED] =
        {
            "Sorry, LINE no longer has that file (it may have expired). Please send it again.",
            "すみません、そのファイルはLINEにもう残っていません（期限切れかもしれません）。もう一度送ってください。",
            "抱歉，LINE 上已經找不到這個檔案了（可能已過期）。請再傳一次。",
        },
    [TEXT_CONTENT_TOO_LARGE] =
        {
            "Sorry, that file is too large for me. The limit is {} MB.",
            "すみません、そのファイルは大きすぎます。上限は {} MB です。",
            "抱歉，這個檔案太大了，上限是 {} MB。",
        },
    [TEXT_CONTENT_NOT_HTTPS] =
        {
            "Sorry, I only open images from secure (https) links.",
            "すみません、安全な（https の）リンクの画像しか開けません。",
            "抱歉，我只能開啟安全（https）連結的圖片。",
        },
    [TEXT_CONTENT_BLOCKED] =
        {
            "Sorry, I can't open content from that address.",
            "すみません、そのアドレスのコンテンツは開けません。",
            "抱歉，我無法開啟這個位址的內容。",
        },
    [TEXT_CONTENT_MISMATCH] =
        {
            "Sorry, that doesn't look like an image I can read (PNG, JPEG, GIF or WebP).",
            "すみません、読み取れる画像（PNG、JPEG、GIF、WebP）ではないようです。",
            "抱歉，這看起來不是我能讀取的圖片（PNG、JPEG、GIF 或 WebP）。",
        },
    [TEXT_CONTENT_FAILED] =
        {
            "Sorry, I couldn't download that from LINE just now. Please try again in a moment.",
            "すみません、今はLINEからダウンロードできませんでした。少し時間をおいて、もう一度お試しください。",
            "抱歉，我現在無法從 LINE 下載這個內容。請稍後再試一次。",
        },
    [TEXT_TRANSCODE_FAILED] =
        {
            "Sorry, LINE couldn't prepare that recording or video, so I can't open it.",
            "すみません、LINEがその録音・動画を変換できなかったため、開けません。",
            "抱歉，LINE 無法處理這段錄音或影片，所以我打不開。",
        },
    [TEXT_IMAGE_REJECTED] =
        {
            "Sorry, the model couldn't read that image. Please try another one.",
            "すみません、モデルがその画像を読み取れませんでした。別の画像でお試しください。",
            "抱歉，模型無法讀取這張圖片。請換一張試試。",
        },
    [TEXT_MEMORY_NOTICE] =
        {
            "By the way, I remember things about you to give better answers. /memory shows them, "
            "/forget all erases them, and /memory off stops it.",
            "なお、より良いお答えのために、あなたについて覚えたことを使います。/memory で確認、"
            "/forget all で消去、/memory off で停止できます。",
            "順帶一提，為了回答得更好，我會記住關於你的事。輸入 /memory 查看，/forget all 全部清除，"
            "/memory off 停用。",
        },
    [TEXT_MEMORY_REMEMBERED] = {"OK, I'll remember that.", "覚えました。", "好的，我記住了。"},
    [TEXT_MEMORY_LIST] = {"What I remember about you:", "あなたについて覚えていること:", "我記得關於你的事："},
    [TEXT_MEMORY_EMPTY] =
        {
            "I don't remember anything about you yet.",
            "まだ、あなたについて覚えていることはありません。",
            "我還沒有記住任何關於你的事。",
        },
    [TEXT_MEMORY_FORGOT] = {"OK, I've forgotten: {}", "忘れました: {}", "好的，已經忘記：{}"},
    [TEXT_MEMORY_FORGOT_ALL] =
        {
            "OK, I've forgotten everything I remembered about you.",
            "あなたについて覚えていたことを、すべて忘れました。",
            "好的，我已經忘記所有關於你的事了。",
        },
    [TEXT_MEMORY_NO_SUCH] =
        {
            "There is no number {}. /memory shows the list.",
            "{} 番はありません。/memory で一覧を表示できます。",
            "沒有第 {} 項。輸入 /memory 可查看清單。",
        },
    [TEXT_MEMORY_OFF] =
        {
            "OK, I won't remember or use anything about you. /memory on turns it back on.",
            "承知しました。あなたについて覚えたり使ったりしません。/memory on で再開できます。",
            "好的，我不會再記住或使用關於你的事。輸入 /memory on 可重新啟用。",
        },
    [TEXT_MEMORY_ON] =
        {
            "OK, I'll remember things about you again.",
            "承知しました。また、あなたについて覚えるようにします。",
            "好的，我會重新記住關於你的事。",
        },
    [TEXT_MEMORY_OPTED_OUT] =
        {
            "Memory is off for you. Type /memory on to turn it on.",
            "メモリー機能は停止中です。/memory on で再開できます。",
            "你的記憶功能已停用。輸入 /memory on 即可啟用。",
        },
    [TEXT_MEMORY_PRIVATE] =
        {
            "Please use memory commands in a one-to-one chat with me.",
            "メモリーのコマンドは、私との個別チャットでお使いください。",
            "記憶相關的指令，請在與我的一對一聊天中使用。",
        },
    [TEXT_MEMORY_DISABLED] =
        {
            "Sorry, memory is turned off for this bot.",
            "すみません、このボットではメモリー機能が無効になっています。",
            "抱歉，這個機器人沒有開啟記憶功能。",
        },
    [TEXT_MEMORY_USAGE] =
        {
            "Try /remember TEXT, /memory, /memory off, /memory on, /forget N or /forget all.",
            "/remember 内容、/memory、/memory off、/memory on、/forget 番号、/forget all のいずれかをお使いください。",
            "請使用 /remember 內容、/memory、/memory off、/memory on、/forget 編號 或 /forget all。",
        },
    [TEXT_MEMORY_TOO_LONG] =
        {
            "That's too long for me to remember: {} characters at most.",
            "長すぎて覚えられません。{} 文字以内でお願いします。",
            "內容太長了，最多 {} 個字。",
        },
    [TEXT_KB_SOURCES] = {"Sources", "出典", "資料來源"},
    [TEXT_KB_UNKNOWN] =
        {
            "I don't know that from the documents I have.",
            "手元の資料には、その答えが見つかりませんでした。",
            "我手邊的資料裡找不到這個問題的答案。",
        },
    /* Voice messages (issue 13). */
    [TEXT_VOICE_TOO_LONG] =
        {
            "Sorry, that voice message is too long for me. The limit is {} seconds.",
            "すみません、その音声メッセージは長すぎます。上限は {} 秒です。",
            "抱歉，這則語音訊息太長了，上限是 {} 秒。",
        },
    [TEXT_VOICE_MISMATCH] =
        {
            "Sorry, that doesn't look like a voice message I can play (m4a).",
            "すみません、再生できる音声メッセージ（m4a）ではないようです。",
            "抱歉，這看起來不是我能播放的語音訊息（m4a）。",
        },
    [TEXT_VOICE_REFUSED] =
        {
            "Sorry, the speech recognition service couldn't read that recording.",
            "すみません、音声認識サービスがその録音を読み取れませんでした。",
            "抱歉，語音辨識服務無法讀取這段錄音。",
        },
    [TEXT_VOICE_FAILED] =
        {
            "Sorry, I couldn't transcribe that voice message just now. Please try again in a moment.",
            "すみません、今はその音声メッセージを文字にできませんでした。少し時間をおいて、もう一度お試しください。",
            "抱歉，我現在無法辨識這則語音訊息。請稍後再試一次。",
        },
    [TEXT_VOICE_EMPTY] =
        {
            "Sorry, I couldn't hear any words in that voice message.",
            "すみません、その音声メッセージからは言葉を聞き取れませんでした。",
            "抱歉，我在這則語音訊息裡聽不到任何話語。",
        },
    /* Slow answers (issue 13 part 5). */
    [TEXT_PROGRESS] =
        {
            "Still working on it. Tap the button below to see the answer.",
            "まだ考えています。下のボタンを押すと回答を表示します。",
            "還在處理中，請點下方按鈕查看回答。",
        },
    [TEXT_PROGRESS_BUTTON] =
        {
            "Show the answer",
            "回答を表示",
            "查看回答",
        },
    /* Files sent to the bot (issue 13, run/stage_files.c). */
    [TEXT_FILES_ADDED] =
        {
            "I've read \"{}\" ({} passage(s)). You can now ask me about it.",
            "「{}」を読み込みました（{} 件の段落）。内容について質問できます。",
            "我已讀取「{}」（{} 個段落）。現在可以問我關於它的問題了。",
        },
    [TEXT_FILES_UNCHANGED] =
        {
            "I already have \"{}\" and it hasn't changed. Ask me about it any time.",
            "「{}」はすでに読み込み済みで、内容は変わっていません。いつでも質問してください。",
            "我已經有「{}」了，內容沒有變動。隨時都可以問我。",
        },
    [TEXT_FILES_UNSUPPORTED] =
        {
            "Sorry, I can only read .txt, .md, .html and .pdf files.",
            "すみません、読めるのは .txt、.md、.html、.pdf のファイルだけです。",
            "抱歉，我只能讀取 .txt、.md、.html 和 .pdf 檔案。",
        },
    [TEXT_FILES_UNREADABLE] =
        {
            "Sorry, I couldn't read \"{}\": it isn't UTF-8 text or HTML.",
            "すみません、「{}」を読めませんでした。UTF-8 のテキストまたは HTML ではないようです。",
            "抱歉，我無法讀取「{}」：它不是 UTF-8 文字或 HTML。",
        },
    [TEXT_FILES_BAD_PDF] =
        {
            "Sorry, I couldn't read the PDF \"{}\" (it may be damaged, locked, or scanned without text).",
            "すみません、PDF「{}」を読めませんでした（破損、パスワード保護、または文字のないスキャンかもしれません）。",
            "抱歉，我無法讀取 PDF「{}」（可能已損壞、有密碼保護，或是沒有文字的掃描檔）。",
        },
    [TEXT_FILES_NO_PDF] =
        {
            "Sorry, I can't read this kind of file here. Please send it as a .txt file.",
            "すみません、ここではこの種類のファイルを読めません。.txt ファイルで送ってください。",
            "抱歉，我在這裡無法讀取這類檔案。請改用 .txt 檔傳送。",
        },
    [TEXT_FILES_FAILED] =
        {
            "Sorry, I couldn't save that document just now. Please try again in a moment.",
            "すみません、今はその文書を保存できませんでした。少し時間をおいて、もう一度お試しください。",
            "抱歉，我現在無法儲存這份文件。請稍後再試一次。",
        },
    [TEXT_FILES_LIST] =
        {
            "Documents in this chat:\n{}\nSend /files clear to remove them.",
            "このチャットの文書：\n{}\n削除するには /files clear と送ってください。",
            "這個聊天室的文件：\n{}\n要刪除請傳送 /files clear。",
        },
    [TEXT_FILES_EMPTY] =
        {
            "There are no documents in this chat. Send me a .txt, .md, .html or .pdf file and I'll read it.",
            "このチャットには文書がありません。.txt、.md、.html、.pdf のファイルを送ってくだされば読み込みます。",
            "這個聊天室還沒有文件。傳給我 .txt、.md、.html 或 .pdf 檔，我就會讀取。",
        },
    [TEXT_FILES_CLEARED] =
        {
            "Done: I removed {} document(s) from this chat.",
            "このチャットの文書を {} 件削除しました。",
            "完成：已從這個聊天室刪除 {} 份文件。",
        },
};

const char *texts_builtin(enum text_id id, enum lang lang)
{
    if ((int)id < 0 || id >= TEXT_COUNT)
        id = TEXT_NONE;
    if ((int)lang < 0 || lang >= LANG_COUNT)
        lang = LANG_EN;
    return builtin[id][lang];
}

char *texts_fill(const char *text, const char *value)
{
    const char *at = strstr(text, "{}");
    if (!at)
        return xstrdup(text);
    return xasprintf("%.*s%s%s", (int)(at - text), text, value ? value : "", at + 2);
}

const char *texts_override(const struct config *cfg, enum text_id id)
{
    switch (id) {
    case TEXT_HELP: return cfg->help_text;
    case TEXT_RESET: return cfg->reset_text;
    case TEXT_MEDIA: return cfg->media_text;
    case TEXT_APOLOGY: return cfg->error_text;
    case TEXT_SLOW_DOWN: return cfg->slow_down_text;
    case TEXT_TRUNCATED: return cfg->truncated_text;
    case TEXT_GREETING: return cfg->greeting ? cfg->greeting : "";
    case TEXT_MODEL_REFUSED:
    case TEXT_MODEL_CURRENT:
    case TEXT_MODEL_LIST:
    case TEXT_MODEL_HOWTO:
    case TEXT_MODEL_UNKNOWN:
    case TEXT_MODEL_SWITCHED:
    case TEXT_PERSONA_REFUSED:
    case TEXT_PERSONA_CURRENT:
    case TEXT_PERSONA_CUSTOM:
    case TEXT_PERSONA_NONE:
    case TEXT_PERSONA_LIST:
    case TEXT_PERSONA_HOWTO_PICK:
    case TEXT_PERSONA_HOWTO_SET:
    case TEXT_PERSONA_UNKNOWN:
    case TEXT_PERSONA_PICKED:
    case TEXT_PERSONA_SET:
    case TEXT_PERSONA_RESET:
    case TEXT_PERSONA_TOO_LONG:
    case TEXT_BUDGET_USER:
    case TEXT_BUDGET_CHAT:
    case TEXT_BUDGET_CHEAPER:
    case TEXT_USAGE:
    case TEXT_USAGE_UNLIMITED:
    case TEXT_CONTENT_EXPIRED:
    case TEXT_CONTENT_TOO_LARGE:
    case TEXT_CONTENT_NOT_HTTPS:
    case TEXT_CONTENT_BLOCKED:
    case TEXT_CONTENT_MISMATCH:
    case TEXT_CONTENT_FAILED:
    case TEXT_TRANSCODE_FAILED:
    case TEXT_IMAGE_REJECTED:
    case TEXT_MEMORY_NOTICE:
    case TEXT_MEMORY_REMEMBERED:
    case TEXT_MEMORY_LIST:
    case TEXT_MEMORY_EMPTY:
    case TEXT_MEMORY_FORGOT:
    case TEXT_MEMORY_FORGOT_ALL:
    case TEXT_MEMORY_NO_SUCH:
    case TEXT_MEMORY_OFF:
    case TEXT_MEMORY_ON:
    case TEXT_MEMORY_OPTED_OUT:
    case TEXT_MEMORY_PRIVATE:
    case TEXT_MEMORY_DISABLED:
    case TEXT_MEMORY_USAGE:
    case TEXT_MEMORY_TOO_LONG:
        return NULL; /* no setting: always the built-in text */
    case TEXT_KB_SOURCES: return cfg->kb_sources_label;
    case TEXT_KB_UNKNOWN: return cfg->kb_unknown_text;
    case TEXT_VOICE_TOO_LONG:
    case TEXT_VOICE_MISMATCH:
    case TEXT_VOICE_REFUSED:
    case TEXT_VOICE_FAILED:
    case TEXT_VOICE_EMPTY:
    case TEXT_PROGRESS:
    case TEXT_PROGRESS_BUTTON:
    case TEXT_FILES_ADDED:
    case TEXT_FILES_UNCHANGED:
    case TEXT_FILES_UNSUPPORTED:
    case TEXT_FILES_UNREADABLE:
    case TEXT_FILES_BAD_PDF:
    case TEXT_FILES_NO_PDF:
    case TEXT_FILES_FAILED:
    case TEXT_FILES_LIST:
    case TEXT_FILES_EMPTY:
    case TEXT_FILES_CLEARED:
        return NULL; /* no setting */
    case TEXT_NONE:
    case TEXT_COUNT:
        break;
    }
    return "";
}

const char *texts_get(const struct config *cfg, enum text_id id, enum lang lang)
{
    const char *text = texts_override(cfg, id);
    return text ? text : texts_builtin(id, lang);
}

bool texts_need_lang(const struct config *cfg, enum text_id id)
{
    return cfg->lang == LANG_AUTO && texts_override(cfg, id) == NULL;
}

static const char *const lang_names[LANG_COUNT] = {"en", "ja", "zh-TW"};

const char *texts_lang_name(enum lang lang)
{
    return (int)lang >= 0 && lang < LANG_COUNT ? lang_names[lang] : "auto";
}

int texts_parse_lang(const char *s, enum lang *out)
{
    static const struct {
        const char *name;
        enum lang lang;
    } names[] = {{"auto", LANG_AUTO}, {"en", LANG_EN},           {"ja", LANG_JA},
                 {"zh-TW", LANG_ZH_TW}, {"zh", LANG_ZH_TW}, {"zh-Hant", LANG_ZH_TW}};
    for (size_t i = 0; s && i < sizeof names / sizeof names[0]; i++) {
        if (strcasecmp(s, names[i].name) == 0) {
            *out = names[i].lang;
            return 0;
        }
    }
    return -1;
}

/* A BCP 47 tag's primary subtag is `prefix`: "ja", "ja-JP", not "jam". */
static bool tag_is(const char *tag, const char *prefix)
{
    size_t n = strlen(prefix);
    return strncasecmp(tag, prefix, n) == 0 && (tag[n] == '\0' || tag[n] == '-' || tag[n] == '_');
}

enum lang texts_lang_of_profile(const char *language)
{
    if (!language || !language[0])
        return LANG_AUTO;
    if (tag_is(language, "ja"))
        return LANG_JA;
    if (tag_is(language, "zh"))
        return LANG_ZH_TW;
    return LANG_EN;
}

/* utf8proc knows categories, not scripts: kana and Han ideographs are both
 * "Lo". So the scripts are Unicode's blocks (Blocks.txt):
 * kana: Hiragana U+3040..309F, Katakana U+30A0..30FF (but not U+30FB, the
 * middle dot Chinese text uses too), Katakana Phonetic Extensions
 * U+31F0..31FF, half-width katakana U+FF66..FF9F, Kana Supplement and
 * Extended-A/B and Small Kana Extension U+1AFF0..1B16F. */
static bool is_kana(int32_t cp)
{
    return (cp >= 0x3040 && cp <= 0x309F) || (cp >= 0x30A0 && cp <= 0x30FF && cp != 0x30FB) ||
           (cp >= 0x31F0 && cp <= 0x31FF) || (cp >= 0xFF66 && cp <= 0xFF9F) || (cp >= 0x1AFF0 && cp <= 0x1B16F);
}

/* Han: CJK Unified Ideographs U+4E00..9FFF and Extension A U+3400..4DBF,
 * Compatibility Ideographs U+F900..FAFF, and Extensions B.. in planes 2
 * and 3 (U+20000..3FFFF). */
static bool is_han(int32_t cp)
{
    return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0xF900 && cp <= 0xFAFF) ||
           (cp >= 0x20000 && cp <= 0x3FFFF);
}

enum lang texts_lang_of_script(const char *text)
{
    if (!text)
        return LANG_EN;
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)text;
    bool han = false;
    while (*p) {
        int32_t cp;
        utf8proc_ssize_t n = utf8proc_iterate(p, -1, &cp);
        if (n < 1) { /* an invalid byte says nothing about the script */
            p++;
            continue;
        }
        if (is_kana(cp))
            return LANG_JA; /* Japanese mixes kana into Han; Chinese has none */
        han = han || is_han(cp);
        p += n;
    }
    return han ? LANG_ZH_TW : LANG_EN;
}
