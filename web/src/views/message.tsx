/** One ui message as the assistant shows it (model/ui-messages.ts decides the kind). */
import { renderMarkdown } from '../render/markdown';
import { imagesOf, viewOf, type UiMessage } from '../model/ui-messages';
import { count, money } from './format';

export function Message({ message, index, onSuggestion }: { message: UiMessage; index: number; onSuggestion?(text: string): void }) {
  const item = viewOf(message, index);
  if (item.kind === 'hidden') return null;
  const images = imagesOf(message);
  const partial = message.partial ? ' partial' : '';
  let body;
  switch (item.kind) {
    case 'task':
      body = <div class="bubble user"><div class="label">Task</div><p class="plain">{item.text}</p></div>;
      break;
    case 'user':
      body = <div class="bubble user"><div class="label">You</div><p class="plain">{item.text}</p></div>;
      break;
    case 'markdown':
      body = (
        <div class="bubble assistant">
          {item.label && <div class="label">{item.label}</div>}
          <Markdown text={item.text} />
        </div>
      );
      break;
    case 'completion':
      body = <div class="bubble done"><div class="label">Task completed</div><Markdown text={item.text} /></div>;
      break;
    case 'reasoning':
      body = <details class="reasoning"><summary>Reasoning</summary><p class="plain">{item.text}</p></details>;
      break;
    case 'request':
      body = (
        <p class="request">
          API request{item.cost !== undefined && <> · <strong>{money(item.cost, 4)}</strong></>}
          {item.tokensIn !== undefined && <> · {count(item.tokensIn)} in / {count(item.tokensOut)} out</>}
          {item.cacheReads ? <> · {count(item.cacheReads)} cached</> : null}
          {item.cancelled && <> · cancelled ({item.cancelled})</>}
        </p>
      );
      break;
    case 'tool':
      body = <details class="block tool" open={item.body.length < 600}><summary>{item.title}</summary><pre>{item.body}</pre></details>;
      break;
    case 'command':
      body = <div class="block command"><div class="label">Command</div><pre>{item.command}</pre></div>;
      break;
    case 'output':
      body = <details class="block output" open={item.text.length < 1200}><summary>Output</summary><pre>{item.text}</pre></details>;
      break;
    case 'question':
      body = (
        <div class="bubble assistant">
          <div class="label">Question</div>
          <Markdown text={item.text} />
          {item.suggestions.length > 0 && (
            <ul class="suggestions">
              {item.suggestions.map((s) => <li><button type="button" class="chip" onClick={() => onSuggestion?.(s)}>{s}</button></li>)}
            </ul>
          )}
        </div>
      );
      break;
    case 'error':
      body = <div class="block error-block"><div class="label">{item.title}</div><pre>{item.text}</pre></div>;
      break;
    case 'note':
      body = <p class="note">{item.text}</p>;
      break;
  }
  return (
    <li class={`message${partial}`} data-ts={message.ts}>
      {body}
      {images.length > 0 && <div class="images">{images.map((src, i) => <img src={src} alt={`Image ${i + 1} of the message`} loading="lazy" />)}</div>}
    </li>
  );
}

function Markdown({ text }: { text: string }) {
  return <div class="markdown" dangerouslySetInnerHTML={{ __html: renderMarkdown(text) }} />;
}
