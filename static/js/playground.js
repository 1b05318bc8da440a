// The playground: each message goes to the fine-tuned model and to its base with
// the same history and settings; answers stream in side by side as server-sent
// events, and each column shows its tokens per second. No build step.
(function () {
  "use strict";

  const form = document.getElementById("playground");
  if (!form) return;
  const csrf = form.querySelector("[name=csrfmiddlewaretoken]").value;
  const columns = [...document.querySelectorAll(".chat")].map((box) => ({
    side: box.dataset.side,
    turns: box.querySelector(".turns"),
    speed: box.querySelector(".speed"),
    history: [], // this column's user and assistant turns
  }));

  function addTurn(column, role, text) {
    const turn = document.createElement("div");
    turn.className = `turn ${role}`;
    turn.textContent = text;
    column.turns.append(turn);
    return turn;
  }

  function settings() {
    return {
      temperature: parseFloat(form.temperature.value),
      top_p: parseFloat(form.top_p.value),
      max_tokens: parseInt(form.max_tokens.value, 10),
    };
  }

  // Read "data: {...}" events from a streamed response body.
  async function* events(response) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf("\n\n")) !== -1) {
        const line = buffer.slice(0, end).trim();
        buffer = buffer.slice(end + 2);
        if (line.startsWith("data: ")) yield JSON.parse(line.slice(6));
      }
    }
  }

  async function ask(column, system) {
    const messages = system ? [{ role: "system", content: system }] : [];
    messages.push(...column.history);
    const answer = addTurn(column, "assistant", "…");
    column.speed.textContent = "";
    const response = await fetch(form.dataset.url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify({ messages, side: column.side, ...settings() }),
    });
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      answer.textContent = body.error || `Error ${response.status}`;
      answer.classList.add("error");
      return;
    }
    let text = "";
    for await (const event of events(response)) {
      if (event.type === "delta") {
        text += event.text;
        answer.textContent = text;
      } else if (event.type === "end") {
        answer.textContent = text;
        answer.classList.toggle("empty-answer", !text);
        const rate = event.completion_tokens / Math.max(event.seconds, 1e-6);
        column.speed.textContent =
          `${event.completion_tokens} tokens · ${rate.toFixed(1)} tokens/s · ${event.finish_reason}`;
      } else if (event.type === "error") {
        answer.textContent = event.message;
        answer.classList.add("error");
        return;
      }
    }
    column.history.push({ role: "assistant", content: text });
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const prompt = form.prompt.value.trim();
    if (!prompt) return;
    const system = form.system.value.trim();
    form.prompt.value = "";
    for (const column of columns) {
      column.history.push({ role: "user", content: prompt });
      addTurn(column, "user", prompt);
      ask(column, system);
    }
  });

  document.getElementById("clear").addEventListener("click", () => {
    for (const column of columns) {
      column.history = [];
      column.turns.replaceChildren();
      column.speed.textContent = "";
    }
  });
})();
